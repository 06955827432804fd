// Collects the report lines the reporter would write (reporter::set_sink), as JSON.
#pragma once

#include <nlohmann/json.hpp>

#include <mutex>
#include <string>
#include <vector>

namespace loopsan::test {

class Findings {
 public:
  static void install();
  // The lines reported since the last take(), parsed.
  static std::vector<nlohmann::json> take();
};

}  // namespace loopsan::test
