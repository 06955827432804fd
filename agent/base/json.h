// A minimal JSON writer for report lines. The output is always valid JSON, whatever bytes the
// host hands us: thread names, argv and exception messages are hostile input (invalid UTF-8,
// control characters, quotes) and are escaped or replaced with U+FFFD.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace loopsan {

// Appends `s` as a JSON string literal (with the quotes).
void json_append_string(std::string& out, std::string_view s);

// `s` as a JSON string literal.
inline std::string json_quote(std::string_view s) {
  std::string out;
  json_append_string(out, s);
  return out;
}

class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view k);
  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return s ? value(std::string_view(s)) : null(); }
  JsonWriter& value(int64_t v);
  JsonWriter& value(uint64_t v);
  JsonWriter& value(int v) { return value(static_cast<int64_t>(v)); }
  JsonWriter& value(bool v);
  JsonWriter& null();
  // Inserts already-serialized JSON (e.g. an object built elsewhere).
  JsonWriter& raw(std::string_view json);
  JsonWriter& hex(uint64_t v);  // "0x..." string

  template <typename T>
  JsonWriter& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }

  const std::string& str() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void separator();
  std::string out_;
  bool need_comma_ = false;
};

}  // namespace loopsan
