// Report strings made safe for line-oriented text that tools read back (suppression files):
// anything may be in a report, invalid UTF-8 and control characters included.
#pragma once

#include <string>

namespace loopsan::cli {

// `text` with each byte of an invalid UTF-8 sequence, each control character (newlines,
// tabs, DEL) and each bidirectional control (U+202A..U+202E, U+2066..U+2069, LRM, RLM,
// ALM: they reorder how the following text displays) replaced by `replacement`; other
// multi-byte characters are kept.
std::string clean_utf8(const std::string& text, char replacement);

// True when a bidirectional control character starts at text[i].
bool bidi_control(const std::string& text, size_t i);

// The length of the valid UTF-8 character at text[i], or 0 when the byte there starts none.
size_t utf8_char_length(const std::string& text, size_t i);

// `text` with each byte of an invalid UTF-8 sequence replaced by U+FFFD, the rest untouched.
std::string valid_utf8(const std::string& text);

// `text` as a terminal may show it: control characters (newlines and ESC included, so that a
// hostile exception message can neither fake a line of the report nor send escape sequences to
// the reader's terminal), C1 controls and bidirectional controls written as escapes (`\n`,
// `\x1b`, `\u202e`) and bytes of invalid UTF-8 as `\xHH`. Backslashes stay as they are: the
// text is for people, not to be parsed back.
std::string terminal_safe(const std::string& text);

// The first `max_bytes` bytes of `text`, cut at a character boundary, with "…" when cut.
std::string truncate_utf8(const std::string& text, size_t max_bytes);

}  // namespace loopsan::cli
