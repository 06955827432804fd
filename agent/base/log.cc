#include "agent/base/log.h"

#include <string>

#include "agent/base/text.h"
#include "agent/base/options.h"
#include "agent/base/sys.h"

namespace loopsan {

void log_line(std::string_view text) {
  std::string line = cat("==", sys::getpid(), "== loopsan: ", text, '\n');
  sys::write_all(2, line.data(), line.size());
}

void log_debug(int level, std::string_view text) {
  if (options().verbosity >= level) log_line(text);
}

}  // namespace loopsan
