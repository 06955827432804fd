// String building for messages and paths: cat("a", 1, sv) appends strings, characters and
// integers, without iostreams or locale machinery.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

namespace loopsan {

namespace text_internal {

inline void append(std::string& out, std::string_view s) {
  out.append(s);
}
inline void append(std::string& out, const char* s) {
  out.append(s != nullptr ? s : "(null)");
}
inline void append(std::string& out, const std::string& s) {
  out.append(s);
}
inline void append(std::string& out, char c) {
  out.push_back(c);
}
template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
void append(std::string& out, T v) {
  out.append(std::to_string(v));
}

}  // namespace text_internal

template <typename... Args>
std::string cat(const Args&... args) {
  std::string out;
  (text_internal::append(out, args), ...);
  return out;
}

template <typename... Args>
void append(std::string& out, const Args&... args) {
  (text_internal::append(out, args), ...);
}

}  // namespace loopsan
