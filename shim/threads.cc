// Thread creation, end, join/detach and names, for the thread registry.
#include <pthread.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/core/agent.h"
#include "agent/runtimes/python_hooks.h"
#include "agent/stacks/stack.h"
#include "agent/core/thread_registry.h"
#include "agent/base/thread_state.h"
#include "shim/interceptor.h"

namespace registry = loopsan::registry;
using loopsan::ReentryGuard;

namespace {

struct StartArgs {
  void* (*start)(void*);
  void* arg;
  pid_t creator_tid;
};

// Records the end of a thread however it ends: return, pthread_exit() or cancellation (both
// unwind the stack and run this destructor). No catch(...) here: a forced unwind must pass.
struct ExitRecorder {
  ~ExitRecorder() {
    int saved_errno = errno;
    loopsan::agent::thread_exiting();
    errno = saved_errno;
  }
};

void* trampoline(void* raw) {
  StartArgs args = *static_cast<StartArgs*>(raw);
  {
    ReentryGuard guard;
    delete static_cast<StartArgs*>(raw);
    registry::thread_started(args.creator_tid);
  }
  ExitRecorder recorder;
  return args.start(args.arg);
}

}  // namespace

LOOPSAN_EXPORT int pthread_create(pthread_t* thread, const pthread_attr_t* attr,
                                  void* (*start)(void*), void* arg) {
  auto real = REAL(pthread_create);
  if (real == nullptr) return ENOSYS;
  if (!loopsan::agent::active() || loopsan::tls_state.guard != 0) {
    return real(thread, attr, start, arg);
  }
  int saved_errno = errno;
  loopsan::python_hooks::on_host_call();  // an embedded interpreter that set no signal handler
  StartArgs* args;
  {
    ReentryGuard guard;
    args = new StartArgs{start, arg, loopsan::current_tid()};
  }
  errno = saved_errno;
  // `attr` is passed through untouched: stack size, detach state, scheduling are the host's.
  int rc = real(thread, attr, trampoline, args);
  if (rc != 0) {
    ReentryGuard guard;
    delete args;
    errno = saved_errno;
  }
  return rc;
}

LOOPSAN_EXPORT int pthread_join(pthread_t thread, void** retval) {
  auto real = REAL(pthread_join);
  if (real == nullptr) return ENOSYS;
  int rc = real(thread, retval);
  if (rc == 0 && loopsan::agent::active()) {
    int saved_errno = errno;
    ReentryGuard guard;
    registry::thread_joined(thread);
    errno = saved_errno;
  }
  return rc;
}

LOOPSAN_EXPORT int pthread_detach(pthread_t thread) {
  auto real = REAL(pthread_detach);
  if (real == nullptr) return ENOSYS;
  int rc = real(thread);
  if (rc == 0 && loopsan::agent::active()) {
    int saved_errno = errno;
    ReentryGuard guard;
    registry::thread_detached(thread);
    errno = saved_errno;
  }
  return rc;
}

LOOPSAN_EXPORT void pthread_exit(void* retval) {
  auto real = REAL(pthread_exit);
  // The main thread is not started by our trampoline: record its end here. For other threads
  // the trampoline's recorder runs again during the unwind and finds nothing left to do.
  int saved_errno = errno;
  loopsan::agent::thread_exiting();
  errno = saved_errno;
  if (real == nullptr) syscall(SYS_exit, 0);
  real(retval);
  __builtin_unreachable();
}

LOOPSAN_EXPORT int pthread_setname_np(pthread_t thread, const char* name) {
  auto real = REAL(pthread_setname_np);
  if (real == nullptr) return ENOSYS;
  int rc = real(thread, name);
  if (rc == 0 && loopsan::agent::active()) {
    int saved_errno = errno;
    ReentryGuard guard;
    registry::thread_named(thread, name);
    errno = saved_errno;
  }
  return rc;
}

// prctl(2) is variadic; every option takes at most four further unsigned long arguments,
// which is also how glibc forwards them to the kernel.
LOOPSAN_EXPORT int prctl(int option, ...) {
  va_list ap;
  va_start(ap, option);
  unsigned long a2 = va_arg(ap, unsigned long);
  unsigned long a3 = va_arg(ap, unsigned long);
  unsigned long a4 = va_arg(ap, unsigned long);
  unsigned long a5 = va_arg(ap, unsigned long);
  va_end(ap);
  auto real = REAL(prctl);
  int rc = real != nullptr ? real(option, a2, a3, a4, a5)
                           : static_cast<int>(syscall(SYS_prctl, option, a2, a3, a4, a5));
  if (rc == 0 && option == PR_SET_NAME && a2 != 0 && loopsan::agent::active()) {
    int saved_errno = errno;
    ReentryGuard guard;
    char name[16];
    strncpy(name, reinterpret_cast<const char*>(a2), sizeof name - 1);
    name[sizeof name - 1] = '\0';
    registry::thread_named(pthread_self(), name);
    errno = saved_errno;
  }
  return rc;
}
