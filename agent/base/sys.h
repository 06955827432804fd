// Raw system-call helpers. The agent uses these instead of libc wrappers that the shim
// intercepts (close, write, sleeps, and syscall() itself), so that its own work never re-enters
// a detector and keeps working in a forked child, a signal handler, or while the real
// functions are still being looked up. All are async-signal-safe.
#pragma once

#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

namespace loopsan::sys {

// A system call made here, not through libc's syscall(): the shim interposes that one
// (futex waits), and loopsan's own calls must not pass through its wrapper. Returns the
// kernel's result with errno set on failure, as syscall() does.
long call(long number, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0,
          long a6 = 0);

// Any argument as the register-sized value the kernel takes.
inline long arg(std::nullptr_t) {
  return 0;
}
template <typename T>
inline long arg(T* p) {
  return reinterpret_cast<long>(p);
}
template <typename T>
inline long arg(T v) {
  return static_cast<long>(v);
}
template <typename... Args>
inline long call_with(long number, Args... args) {
  return call(number, arg(args)...);
}

inline pid_t gettid() {
  return static_cast<pid_t>(call(SYS_gettid));
}
inline pid_t getpid() {
  return static_cast<pid_t>(call(SYS_getpid));
}
inline int close(int fd) {
  return static_cast<int>(call(SYS_close, fd));
}

// Copies `len` bytes of this process's memory at `from`; false (errno kept) where it is not
// readable, instead of a fault. For memory the host handed to a wrapper.
bool read_memory(void* to, const void* from, size_t len);

// Moves `fd` to a high descriptor number (close-on-exec), closing the original, and returns
// the new number (or `fd` itself if that is not possible). loopsan's own descriptors stay
// out of the low numbers a host expects open() to return (a daemon that closed 0-2 and
// reopens /dev/null must still get 0), and out of the way of hosts that use many.
int move_to_high_fd(int fd);

// Writes all of `len` bytes, retrying on EINTR and short writes. Returns false on error.
bool write_all(int fd, const void* data, size_t len);

// Monotonic clock in nanoseconds (vDSO, no syscall on x86_64).
inline int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // the vDSO: no system call
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}
// Wall clock in milliseconds since the epoch.
int64_t wall_ms();

// Formats `value` in decimal into `buf` (no allocation); returns the number of characters.
size_t format_u64(char* buf, uint64_t value);

// Reads up to `cap - 1` bytes of the file at `path` into `buf`, NUL-terminated, with raw
// open/read/close (the descriptor lives for this call only: a host may close every
// descriptor, and a kept one could end up naming the host's file). Returns the number of
// bytes read, or -1 (errno kept). For small /proc files.
long read_small_file(const char* path, char* buf, size_t cap);

// CPU time consumed so far by thread `tid` of this process, in nanoseconds, or -1 when it has
// exited. Its clock id is computed from the tid the way glibc's pthread_getcpuclockid does
// (MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)), so that no pthread_t is needed; a real system
// call (no vDSO for CPU clocks), about 1 µs.
int64_t thread_cpu_ns(pid_t tid);

}  // namespace loopsan::sys
