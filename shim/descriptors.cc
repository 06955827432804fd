// The close() family (closing a loop's polling set ends the loop; closing libunwind's pipe
// makes it forget the pipe first) and pipe2() (libunwind's pipe goes to high numbers).
#include <fcntl.h>
#include <unistd.h>

#include "shim/shim.h"

LOOPSAN_EXPORT int close(int fd) {
  auto real = REAL(close);
  if (real == nullptr) MISSING_ERRNO;
  events::fd_closing(fd, __builtin_return_address(0));
  return real(fd);
}

LOOPSAN_EXPORT int close_range(unsigned int first, unsigned int last, int flags) {
  auto real = REAL(close_range);
  if (real == nullptr) MISSING_ERRNO;
  if ((flags & CLOSE_RANGE_CLOEXEC) == 0) {
    events::fds_closing(first, last, __builtin_return_address(0));
  }
  return real(first, last, flags);
}

LOOPSAN_EXPORT void closefrom(int lowfd) {
  auto real = REAL(closefrom);
  if (lowfd >= 0)
    events::fds_closing(static_cast<unsigned>(lowfd), ~0u, __builtin_return_address(0));
  if (real != nullptr) real(lowfd);
}

LOOPSAN_EXPORT int pipe2(int fds[2], int flags) {
  auto real = REAL(pipe2);
  if (real == nullptr) MISSING_ERRNO;
  if (!events::is_unwinder_call(__builtin_return_address(0))) return real(fds, flags);
  int fresh[2];
  int rc = real(fresh, flags);
  if (rc != 0) return rc;
  events::unwinder_pipe_opened(fds, fresh);
  return 0;
}
