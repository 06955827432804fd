// libFuzzer target: LOOPSAN_OPTIONS parsing. The text comes from the user's environment, so any
// bytes must parse without crashing, and the start line's `options` object built from the result
// must still be one valid JSON object (the report file's first line depends on it).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/base/options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  loopsan::Options options;
  std::vector<std::string> warnings;
  loopsan::parse_options(text, options, warnings);
  // Values keep their declared ranges whatever the input (options.def's min/max).
  if (options.stack_depth < 1 || options.stack_depth > 256) abort();
  if (options.exitcode < 0 || options.exitcode > 255) abort();
  nlohmann::json parsed = nlohmann::json::parse(loopsan::options_json(options), nullptr, false);
  if (!parsed.is_object()) abort();
  return 0;
}
