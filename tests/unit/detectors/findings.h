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

  // True if a frame of `stack` (a stack field of a finding) names `function`.
  static bool names(const nlohmann::json& stack, const std::string& function);
};

}  // namespace loopsan::test
