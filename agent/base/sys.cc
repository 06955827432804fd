#include "agent/base/sys.h"

#include <fcntl.h>
#include <sys/resource.h>

#include <cerrno>
#include <ctime>

namespace loopsan::sys {

long call(long number, long a1, long a2, long a3, long a4, long a5, long a6) {
#if defined(__x86_64__)
  long ret;
  register long r10 __asm__("r10") = a4;
  register long r8 __asm__("r8") = a5;
  register long r9 __asm__("r9") = a6;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(number), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  if (ret < 0 && ret > -4096) {
    errno = static_cast<int>(-ret);
    return -1;
  }
  return ret;
#else
  // Elsewhere through libc's own entry point, found past the shim's wrapper.
  using Syscall = long (*)(long, ...);
  static Syscall real = reinterpret_cast<Syscall>(dlsym(RTLD_NEXT, "syscall"));
  return real(number, a1, a2, a3, a4, a5, a6);
#endif
}

bool read_memory(void* to, const void* from, size_t len) {
  int saved = errno;
  iovec local{to, len};
  iovec remote{const_cast<void*>(from), len};
  long n = call_with(SYS_process_vm_readv, getpid(), &local, 1, &remote, 1, 0);
  errno = saved;
  return n == static_cast<long>(len);
}

int move_to_high_fd(int fd) {
  // Just under the soft limit (capped: the kernel sizes the descriptor table to the highest
  // number in use), where a host only gets to when it is about to run out.
  rlimit lim{};
  long top = 1024;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
      static_cast<long>(lim.rlim_cur) < top) {
    top = static_cast<long>(lim.rlim_cur);
  }
  long floor = top > 64 ? top - 32 : top / 2;
  int high = static_cast<int>(sys::call_with(SYS_fcntl, fd, F_DUPFD_CLOEXEC, floor));
  if (high < 0) return fd;
  sys::close(fd);
  return high;
}

bool write_all(int fd, const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    long n = sys::call_with(SYS_write, fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

int64_t wall_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

long read_small_file(const char* path, char* buf, size_t cap) {
  if (cap == 0) return -1;
  int saved = errno;
  long fd = call_with(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  long total = -1;
  if (fd >= 0) {
    total = 0;
    while (static_cast<size_t>(total) < cap - 1) {
      long n = call_with(SYS_read, fd, buf + total, cap - 1 - static_cast<size_t>(total));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      total += n;
    }
    close(static_cast<int>(fd));
    buf[total] = '\0';
  }
  errno = saved;
  return total;
}

int64_t thread_cpu_ns(pid_t tid) {
  int saved = errno;
  auto clock = static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6);
  timespec ts{};
  long rc = call_with(SYS_clock_gettime, clock, &ts);
  errno = saved;
  return rc == 0 ? int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec : -1;
}

size_t format_u64(char* buf, uint64_t value) {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  for (size_t i = 0; i < n; ++i) buf[i] = tmp[n - 1 - i];
  return n;
}

}  // namespace loopsan::sys
