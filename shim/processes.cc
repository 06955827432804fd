// fork (the child's agent starts afresh, without waiting on any other thread: see
// agent/base/fork_gate.h), exec (the image ends: write its summary) and _exit (no exit
// handlers run: write the summary here).
#include <alloca.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include <cstdio>

#include "shim/shim.h"

LOOPSAN_EXPORT pid_t fork() {
  auto real = REAL(fork);
  if (real == nullptr) MISSING_ERRNO;
  events::fork_starting();
  pid_t pid = real();
  loopsan::ErrnoSaver errno_saver;
  events::fork_ended(pid);
  return pid;
}

namespace {

// Runs an exec-family call: summary first (the image is about to be replaced), re-armed if
// exec fails and the image lives on. In a vfork() child exec_starting() does nothing.
template <typename Exec>
int run_exec(Exec&& exec) {
  events::exec_starting();
  int rc = exec();
  loopsan::ErrnoSaver errno_saver;
  events::exec_failed();
  return rc;
}

}  // namespace

LOOPSAN_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) {
  auto real = REAL(execve);
  if (real == nullptr) MISSING_ERRNO;
  return run_exec([&] { return real(path, argv, envp); });
}

LOOPSAN_EXPORT int execv(const char* path, char* const argv[]) {
  auto real = REAL(execv);
  if (real == nullptr) MISSING_ERRNO;
  return run_exec([&] { return real(path, argv); });
}

LOOPSAN_EXPORT int execvp(const char* file, char* const argv[]) {
  auto real = REAL(execvp);
  if (real == nullptr) MISSING_ERRNO;
  return run_exec([&] { return real(file, argv); });
}

LOOPSAN_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) {
  auto real = REAL(execvpe);
  if (real == nullptr) MISSING_ERRNO;
  return run_exec([&] { return real(file, argv, envp); });
}

LOOPSAN_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) {
  auto real = REAL(fexecve);
  if (real == nullptr) MISSING_ERRNO;
  return run_exec([&] { return real(fd, argv, envp); });
}

// execl/execlp/execle: glibc builds the argument vector and calls execve internally, out of
// our reach; so do we, and go through the vector forms above. On the stack, not the heap: an
// exec may run in a vfork() child.
#define LOOPSAN_COLLECT_ARGS(first, argv)                                 \
  size_t argc_ = 1;                                                       \
  {                                                                       \
    va_list count_;                                                       \
    va_start(count_, first);                                              \
    while (va_arg(count_, char*) != nullptr) ++argc_;                     \
    va_end(count_);                                                       \
  }                                                                       \
  char** argv = static_cast<char**>(alloca((argc_ + 1) * sizeof(char*))); \
  va_list args_;                                                          \
  va_start(args_, first);                                                 \
  argv[0] = const_cast<char*>(first);                                     \
  for (size_t i_ = 1; i_ <= argc_; ++i_) argv[i_] = va_arg(args_, char*);

LOOPSAN_EXPORT int execl(const char* path, const char* arg, ...) {
  LOOPSAN_COLLECT_ARGS(arg, argv)
  va_end(args_);
  return execv(path, argv);
}

LOOPSAN_EXPORT int execlp(const char* file, const char* arg, ...) {
  LOOPSAN_COLLECT_ARGS(arg, argv)
  va_end(args_);
  return execvp(file, argv);
}

LOOPSAN_EXPORT int execle(const char* path, const char* arg, ...) {
  LOOPSAN_COLLECT_ARGS(arg, argv)
  char* const* envp = va_arg(args_, char* const*);  // after the terminating null
  va_end(args_);
  return execve(path, argv, envp);
}

#undef LOOPSAN_COLLECT_ARGS

LOOPSAN_EXPORT void _exit(int status) {
  auto real = REAL(_exit);
  status = events::process_exiting_now(status);
  if (real == nullptr) loopsan::sys::call(SYS_exit_group, status);
  real(status);
  __builtin_unreachable();
}

LOOPSAN_EXPORT void _Exit(int status) {
  auto real = REAL(_Exit);
  status = events::process_exiting_now(status);
  if (real == nullptr) loopsan::sys::call(SYS_exit_group, status);
  real(status);
  __builtin_unreachable();
}

LOOPSAN_EXPORT int pclose(FILE* stream) {
  auto real = REAL(pclose);
  if (real == nullptr) MISSING_ERRNO;
  if (stream != nullptr) {
    int fd = fileno(stream);
    if (fd >= 0) events::fd_closing(fd, __builtin_return_address(0));
  }
  if (__builtin_expect(!events::maybe_loop_thread(), 1)) return real(stream);
  events::BlockingScope scope(
      events::BlockingCall{"pclose", ALWAYS, -1, __builtin_return_address(0)});
  return real(stream);
}
