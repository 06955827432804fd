// Descriptors: the close() family (closing a loop's polling set ends the loop; closing
// libunwind's pipe makes it forget the pipe first), pipe2() (libunwind's pipe goes to high
// numbers), and what changes the answer to "is this descriptor non-blocking?" (dup2/dup3 onto
// a number, fcntl F_SETFL, ioctl FIONBIO), with fcntl's lock waits and syscall()'s futex waits.
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>

#include "shim/shim.h"

LOOPSAN_EXPORT int close(int fd) {
  auto real = REAL(close);
  if (real == nullptr) MISSING_ERRNO;
  events::fd_closing(fd, __builtin_return_address(0));
  int rc = real(fd);
  events::fd_closed(fd);
  return rc;
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

LOOPSAN_EXPORT int fclose(FILE* stream) {
  auto real = REAL(fclose);
  if (real == nullptr) MISSING_ERRNO;
  if (stream != nullptr) {
    int fd = fileno(stream);
    if (fd >= 0) events::fd_closing(fd, __builtin_return_address(0));
    int rc = real(stream);
    if (fd >= 0) events::fd_closed(fd);
    return rc;
  }
  return real(stream);
}

// dup/dup2/dup3: the new number names the old one's open file; dup2/dup3 first close whatever
// the target number named (only if the call can succeed: a bad `oldfd` leaves it open).
LOOPSAN_EXPORT int dup(int oldfd) {
  auto real = REAL(dup);
  if (real == nullptr) MISSING_ERRNO;
  int rc = real(oldfd);
  if (rc >= 0) events::fd_duplicated(oldfd, rc);
  return rc;
}

LOOPSAN_EXPORT int dup2(int oldfd, int newfd) {
  auto real = REAL(dup2);
  if (real == nullptr) MISSING_ERRNO;
  if (oldfd != newfd && loopsan::sys::call(SYS_fcntl, oldfd, F_GETFD) >= 0) {
    events::fd_closing(newfd, __builtin_return_address(0));
  }
  int rc = real(oldfd, newfd);
  if (rc >= 0 && oldfd != newfd) events::fd_duplicated(oldfd, newfd);
  return rc;
}

LOOPSAN_EXPORT int dup3(int oldfd, int newfd, int flags) {
  auto real = REAL(dup3);
  if (real == nullptr) MISSING_ERRNO;
  if (oldfd != newfd && loopsan::sys::call(SYS_fcntl, oldfd, F_GETFD) >= 0) {
    events::fd_closing(newfd, __builtin_return_address(0));
  }
  int rc = real(oldfd, newfd, flags);
  if (rc >= 0) events::fd_duplicated(oldfd, newfd);
  return rc;
}

// ioctl(FIONBIO) is how CPython's socket.setblocking() and nginx change O_NONBLOCK.
LOOPSAN_EXPORT int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  auto real = REAL(ioctl);
  if (real == nullptr) MISSING_ERRNO;
  int rc = real(fd, request, arg);
  if (request == FIONBIO) events::fd_flags_changed(fd);
  return rc;
}

namespace {

// fcntl and fcntl64 share their commands: O_NONBLOCK changes, and the lock waits.
template <typename Real>
int fcntl_common(Real real, const char* name, int fd, int cmd, void* arg, const void* caller) {
  if (cmd == F_SETFL) {
    int rc = real(fd, cmd, arg);
    events::fd_flags_changed(fd);
    return rc;
  }
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) {
    int rc = real(fd, cmd, arg);
    if (rc >= 0) events::fd_duplicated(fd, rc);
    return rc;
  }
  if ((cmd == F_SETLKW || cmd == F_OFD_SETLKW) && events::maybe_loop_thread()) {
    events::BlockingScope scope(events::BlockingCall{name, THRESHOLD, -1, caller});
    return real(fd, cmd, arg);
  }
  return real(fd, cmd, arg);
}

}  // namespace

// Every command's third argument, when it has one, is an int or a pointer: read as a pointer-
// sized value, as glibc's own fcntl does.
LOOPSAN_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  auto real = REAL(fcntl);
  if (real == nullptr) MISSING_ERRNO;
  return fcntl_common(real, "fcntl", fd, cmd, arg, __builtin_return_address(0));
}

LOOPSAN_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  auto real = REAL(fcntl64);
  if (real == nullptr) MISSING_ERRNO;
  return fcntl_common(real, "fcntl", fd, cmd, arg, __builtin_return_address(0));
}

// syscall(): the futex waits libstdc++ makes for std::future, std::atomic::wait, semaphores
// and latches (and GLib for GMutex/GCond), and the close/dup/fcntl/ioctl that some runtimes
// (libuv) make without their libc wrappers. It is defined with six fixed arguments under the
// name "syscall" rather than as a variadic function: on x86-64 a variadic call passes them in
// the same registers (the sixth on the stack), and glibc's own syscall() reads all six the same
// way whatever the caller passed; no va_arg walk on a path this hot. (<unistd.h> declares it
// variadic, hence the assembler name.)
extern "C" long loopsan_syscall(long number, long a1, long a2, long a3, long a4, long a5,
                                long a6) __asm__("syscall");
extern "C" __attribute__((visibility("default"))) long loopsan_syscall(long number, long a1,
                                                                       long a2, long a3, long a4,
                                                                       long a5, long a6) {
  auto real = REAL(syscall);
  if (real == nullptr) return loopsan::sys::call(number, a1, a2, a3, a4, a5, a6);
  switch (number) {
    case SYS_futex: {
      int op = static_cast<int>(a2) & FUTEX_CMD_MASK;
      bool waits = op == FUTEX_WAIT || op == FUTEX_WAIT_BITSET || op == FUTEX_LOCK_PI ||
                   op == FUTEX_LOCK_PI2 || op == FUTEX_WAIT_REQUEUE_PI;
      if (waits && events::maybe_loop_thread()) {
        events::BlockingScope scope(
            events::BlockingCall{"futex", THRESHOLD, -1, __builtin_return_address(0)});
        return real(number, a1, a2, a3, a4, a5, a6);
      }
      break;
    }
#ifdef SYS_futex_waitv
    case SYS_futex_waitv:
      if (events::maybe_loop_thread()) {
        events::BlockingScope scope(
            events::BlockingCall{"futex", THRESHOLD, -1, __builtin_return_address(0)});
        return real(number, a1, a2, a3, a4, a5, a6);
      }
      break;
#endif
    case SYS_close: {
      events::fd_closing(static_cast<int>(a1), __builtin_return_address(0));
      long rc = real(number, a1, a2, a3, a4, a5, a6);
      events::fd_closed(static_cast<int>(a1));
      return rc;
    }
    case SYS_close_range:
      if ((a3 & CLOSE_RANGE_CLOEXEC) == 0) {
        events::fds_closing(static_cast<unsigned>(a1), static_cast<unsigned>(a2),
                            __builtin_return_address(0));
      }
      break;
    case SYS_dup2:
    case SYS_dup3:
      if (a1 != a2) events::fd_closing(static_cast<int>(a2), __builtin_return_address(0));
      {
        long rc = real(number, a1, a2, a3, a4, a5, a6);
        if (rc >= 0) events::fd_duplicated(static_cast<int>(a1), static_cast<int>(a2));
        return rc;
      }
    case SYS_fcntl:
      if (a2 == F_SETFL) {
        long rc = real(number, a1, a2, a3, a4, a5, a6);
        events::fd_flags_changed(static_cast<int>(a1));
        return rc;
      }
      break;
    case SYS_ioctl:
      if (static_cast<unsigned long>(a2) == FIONBIO) {
        long rc = real(number, a1, a2, a3, a4, a5, a6);
        events::fd_flags_changed(static_cast<int>(a1));
        return rc;
      }
      break;
    default:
      break;
  }
  return real(number, a1, a2, a3, a4, a5, a6);
}
