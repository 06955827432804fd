// A place in the source: what symbolizers give for one level of a native frame.
#pragma once

#include <string>

namespace loopsan::cli {

struct SourceLocation {
  std::string function;  // may be empty
  std::string file;
  int line = 0;
};

}  // namespace loopsan::cli
