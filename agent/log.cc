#include "agent/log.h"

#include <string>

#include "agent/text.h"
#include "agent/options.h"
#include "agent/sys.h"

namespace loopsan {

void log_line(std::string_view text) {
  std::string line = cat("==", sys::getpid(), "== loopsan: ", text, '\n');
  sys::write_all(2, line.data(), line.size());
}

void log_debug(int level, std::string_view text) {
  if (options().verbosity >= level) log_line(text);
}

}  // namespace loopsan
