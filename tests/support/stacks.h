// Reading stacks out of report lines, for every kind of test.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace loopsan::test {

// True if any frame of `stack` (a JSON array of frames) has a function containing `name`.
inline bool stack_has_function(const nlohmann::json& stack, const std::string& name) {
  if (!stack.is_array()) return false;
  for (const auto& frame : stack) {
    if (frame.contains("function") && frame["function"].is_string() &&
        frame["function"].get<std::string>().find(name) != std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace loopsan::test
