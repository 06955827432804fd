// errno as the host left it, whatever the agent does in between (stack capture, file writes and
// symbolization make system calls). One per wrapper or agent entry point that does any work.
#pragma once

#include <cerrno>

namespace loopsan {

class ErrnoSaver {
 public:
  ErrnoSaver() : saved_(errno) {}
  ~ErrnoSaver() { errno = saved_; }
  ErrnoSaver(const ErrnoSaver&) = delete;
  ErrnoSaver& operator=(const ErrnoSaver&) = delete;

 private:
  int saved_;
};

}  // namespace loopsan
