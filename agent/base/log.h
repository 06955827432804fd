// loopsan's own lines on stderr ("==<pid>== loopsan: ..."), written with one raw write() each so
// that they never interleave with the host's output mid-line or re-enter a wrapper.
#pragma once

#include <string_view>

namespace loopsan {

void log_line(std::string_view text);
// Only printed when verbosity >= level.
void log_debug(int level, std::string_view text);

}  // namespace loopsan
