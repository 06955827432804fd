// libFuzzer target: the suppressions file parser, which reads a user-written file inside the
// host at start-up. Any bytes must parse without crashing; every rule kept has a kind and a
// pattern and names the line it came from.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent/report/suppressions.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> problems, warnings;
  std::vector<loopsan::suppressions::Rule> rules =
      loopsan::suppressions::parse(text, problems, warnings);
  for (const auto& rule : rules) {
    if (rule.kind.empty() || rule.line < 1) abort();
  }
  return 0;
}
