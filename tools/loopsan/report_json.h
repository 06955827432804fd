// Reading the fields of report records (schema 1) without trusting them: a missing or
// mistyped field reads as its fallback, never throws.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

namespace loopsan::cli {

inline std::string str(const nlohmann::json& j, const char* key, const std::string& fallback = "") {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>()
                                                                : fallback;
}

// A JSON number as a long, clamped: a float out of range (2e127 in a hand-edited report, found
// by tests/fuzz/report_fuzzer) must not be converted as is, which is undefined behaviour.
inline long clamped_long(const nlohmann::json& v, long fallback = 0) {
  constexpr long kMax = std::numeric_limits<long>::max();
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(kMax)) return kMax;
    return v.get<long>();
  }
  if (!v.is_number_float()) return fallback;
  double d = v.get<double>();
  if (std::isnan(d)) return fallback;
  if (d >= 9.2e18) return kMax;
  if (d <= -9.2e18) return std::numeric_limits<long>::min();
  return static_cast<long>(d);
}

inline long num(const nlohmann::json& j, const char* key, long fallback = 0) {
  return j.is_object() && j.contains(key) ? clamped_long(j[key], fallback) : fallback;
}

inline bool flag(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_boolean() && j[key].get<bool>();
}

// "0x1a2b" fields (a native frame's offset) as numbers; 0 when absent.
inline unsigned long hex_field(const nlohmann::json& frame, const char* key) {
  std::string text = str(frame, key);
  return text.empty() ? 0 : strtoul(text.c_str(), nullptr, 16);
}

// Which kind of stack an array field holds: native frames have "ip", Python frames "file",
// JavaScript frames "script".
inline bool is_native_stack(const nlohmann::json& v) {
  return v.is_array() && !v.empty() && v[0].is_object() && v[0].contains("ip");
}
inline bool is_python_stack(const nlohmann::json& v) {
  return v.is_array() && !v.empty() && v[0].is_object() && v[0].contains("file") &&
         !v[0].contains("ip");
}
inline bool is_js_stack(const nlohmann::json& v) {
  return v.is_array() && !v.empty() && v[0].is_object() && v[0].contains("script");
}

inline std::string basename_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace loopsan::cli
