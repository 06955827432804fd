// Raw system-call helpers. The agent uses these instead of libc wrappers that the shim
// intercepts (close, write, sleeps, ...), so that its own work never re-enters a detector and
// keeps working in a forked child or a signal handler. All are async-signal-safe.
#pragma once

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

namespace loopsan::sys {

inline pid_t gettid() {
  return static_cast<pid_t>(::syscall(SYS_gettid));
}
inline pid_t getpid() {
  return static_cast<pid_t>(::syscall(SYS_getpid));
}
inline int close(int fd) {
  return static_cast<int>(::syscall(SYS_close, fd));
}

// Moves `fd` to a high descriptor number (close-on-exec), closing the original, and returns
// the new number (or `fd` itself if that is not possible). loopsan's own descriptors stay
// out of the low numbers a host expects open() to return (a daemon that closed 0-2 and
// reopens /dev/null must still get 0), and out of the way of hosts that use many.
int move_to_high_fd(int fd);

// Writes all of `len` bytes, retrying on EINTR and short writes. Returns false on error.
bool write_all(int fd, const void* data, size_t len);

// Monotonic clock in nanoseconds (vDSO, no syscall on x86_64).
int64_t monotonic_ns();
// Wall clock in milliseconds since the epoch.
int64_t wall_ms();

// Formats `value` in decimal into `buf` (no allocation); returns the number of characters.
size_t format_u64(char* buf, uint64_t value);

}  // namespace loopsan::sys
