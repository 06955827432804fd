#include "tools/loopsan/text_clean.h"

#include <cstdio>

namespace loopsan::cli {

namespace {

// The length of the valid UTF-8 sequence at `i`, or 0 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF).
size_t utf8_length(const std::string& s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = c >= 0xC2 && c <= 0xDF   ? 2
             : c >= 0xE0 && c <= 0xEF ? 3
             : c >= 0xF0 && c <= 0xF4 ? 4
                                      : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  unsigned char c1 = byte(i + 1);
  if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) ||
      (c == 0xF4 && c1 > 0x8F)) {
    return 0;
  }
  return n;
}

}  // namespace

bool bidi_control(const std::string& text, size_t i) {
  auto at = [&](size_t k) { return k < text.size() ? static_cast<unsigned char>(text[k]) : 0; };
  if (at(i) == 0xD8 && at(i + 1) == 0x9C) return true;  // U+061C ARABIC LETTER MARK
  if (at(i) != 0xE2) return false;
  unsigned char b1 = at(i + 1), b2 = at(i + 2);
  return (b1 == 0x80 && (b2 == 0x8E || b2 == 0x8F || (b2 >= 0xAA && b2 <= 0xAE))) ||
         (b1 == 0x81 && b2 >= 0xA6 && b2 <= 0xA9);
}

size_t utf8_char_length(const std::string& text, size_t i) {
  return utf8_length(text, i);
}

std::string clean_utf8(const std::string& text, char replacement) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8_length(text, i);
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7F))) {
      out += replacement;
      ++i;
      continue;
    }
    if (bidi_control(text, i)) {
      out += replacement;
      i += n;
      continue;
    }
    out.append(text, i, n);
    i += n;
  }
  return out;
}

std::string valid_utf8(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8_length(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    out.append(text, i, n);
    i += n;
  }
  return out;
}

std::string truncate_utf8(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "…";
}

std::string terminal_safe(const std::string& text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t n = utf8_length(text, i);
    if (n == 0) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      i += 1;
    } else if (c == '\n') {
      out += "\\n";
      i += 1;
    } else if (c == '\t') {
      out += "\\t";
      i += 1;
    } else if (c == '\r') {
      out += "\\r";
      i += 1;
    } else if (c < 0x20 || c == 0x7F) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      i += 1;
    } else if ((c == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0) ||
               bidi_control(text, i)) {
      // C1 controls (U+0080..U+009F: 0x9B is a CSI on some terminals) and bidi controls.
      unsigned code = 0;
      for (size_t k = 0; k < n; ++k) {
        unsigned char b = static_cast<unsigned char>(text[i + k]);
        code = k == 0 ? (b & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07)) : (code << 6) | (b & 0x3F);
      }
      char buf[16];
      snprintf(buf, sizeof buf, "\\u%04x", code);
      out += buf;
      i += n;
    } else {
      out.append(text, i, n);
      i += n;
    }
  }
  return out;
}

}  // namespace loopsan::cli
