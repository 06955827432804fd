#include "tests/unit/detectors/findings.h"

#include "agent/report/reporter.h"

namespace loopsan::test {
namespace {

std::mutex mutex;
std::vector<std::string> lines;

void collect(const std::string& line) {
  std::lock_guard<std::mutex> g(mutex);
  lines.push_back(line);
}

}  // namespace

void Findings::install() {
  reporter::set_sink(collect);
}

std::vector<nlohmann::json> Findings::take() {
  std::lock_guard<std::mutex> g(mutex);
  std::vector<nlohmann::json> out;
  for (const std::string& l : lines) out.push_back(nlohmann::json::parse(l));
  lines.clear();
  return out;
}

}  // namespace loopsan::test
