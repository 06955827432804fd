// Thread creation, end, join/detach and names, for the thread registry.
#include <pthread.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "shim/shim.h"

namespace {

struct StartArgs {
  void* (*start)(void*);
  void* arg;
  pid_t creator_tid;
  events::ThreadCreation creation;
};

// Records the end of a thread however it ends: return, pthread_exit() or cancellation (both
// unwind the stack and run this destructor). No catch(...) here: a forced unwind must pass.
struct ExitRecorder {
  ~ExitRecorder() { events::thread_exiting(); }
};

void* trampoline(void* raw) {
  StartArgs args = *static_cast<StartArgs*>(raw);
  {
    loopsan::ReentryGuard guard;
    delete static_cast<StartArgs*>(raw);
  }
  events::thread_started(args.creator_tid, args.creation);
  ExitRecorder recorder;
  return args.start(args.arg);
}

}  // namespace

LOOPSAN_EXPORT int pthread_create(pthread_t* thread, const pthread_attr_t* attr,
                                  void* (*start)(void*), void* arg) {
  auto real = REAL(pthread_create);
  if (real == nullptr) return ENOSYS;
  if (!events::enabled()) return real(thread, attr, start, arg);
  events::runtime_checkpoint();  // an embedded interpreter that set no signal handler
  // On this thread, while the caller's frames are here to be seen.
  events::ThreadCreation creation = events::thread_creating(attr);
  StartArgs* args;
  {
    loopsan::ErrnoSaver errno_saver;
    loopsan::ReentryGuard guard;
    args = new (std::nothrow) StartArgs{start, arg, loopsan::current_tid(), creation};
  }
  if (args == nullptr) {
    // Untracked: the thread will not run the trampoline, so its record goes.
    events::thread_created(creation, ENOMEM, pthread_t{});
    return real(thread, attr, start, arg);
  }
  // `attr` is passed through untouched: stack size, detach state, scheduling are the host's.
  int rc = real(thread, attr, trampoline, args);
  if (rc != 0) {
    loopsan::ErrnoSaver errno_saver;
    loopsan::ReentryGuard guard;
    delete args;
  }
  // Before the caller can detach or join it.
  events::thread_created(creation, rc, rc == 0 ? *thread : pthread_t{});
  return rc;
}

// Joining a thread that is still running blocks (DESIGN.md, class 1). On a loop thread the join
// is first tried without waiting: a thread that already ended is joined at once, and reported
// by nobody.
#define LOOPSAN_JOIN_WRAPPER(sym, params, args)                                 \
  LOOPSAN_EXPORT int sym params {                                               \
    auto real = REAL(sym);                                                      \
    if (real == nullptr) return ENOSYS;                                         \
    if (events::maybe_loop_thread()) {                                          \
      int tried = pthread_tryjoin_np(thread, retval);                           \
      if (tried != EBUSY) {                                                     \
        if (tried == 0) events::thread_joined(thread);                          \
        return tried;                                                           \
      }                                                                         \
    }                                                                           \
    int rc;                                                                     \
    {                                                                           \
      events::BlockingScope scope(                                              \
          events::BlockingCall{#sym, ALWAYS, -1, __builtin_return_address(0)}); \
      rc = real args;                                                           \
    }                                                                           \
    if (rc == 0) events::thread_joined(thread);                                 \
    return rc;                                                                  \
  }

LOOPSAN_JOIN_WRAPPER(pthread_join, (pthread_t thread, void** retval), (thread, retval))
LOOPSAN_JOIN_WRAPPER(pthread_timedjoin_np,
                     (pthread_t thread, void** retval, const timespec* abstime),
                     (thread, retval, abstime))
LOOPSAN_JOIN_WRAPPER(pthread_clockjoin_np,
                     (pthread_t thread, void** retval, clockid_t clock, const timespec* abstime),
                     (thread, retval, clock, abstime))

LOOPSAN_EXPORT int pthread_detach(pthread_t thread) {
  auto real = REAL(pthread_detach);
  if (real == nullptr) return ENOSYS;
  int rc = real(thread);
  if (rc == 0) events::thread_detached(thread);
  return rc;
}

LOOPSAN_EXPORT void pthread_exit(void* retval) {
  auto real = REAL(pthread_exit);
  // The main thread is not started by our trampoline: record its end here. For other threads
  // the trampoline's recorder runs again during the unwind and finds nothing left to do.
  events::thread_exiting();
  if (real == nullptr) loopsan::sys::call(SYS_exit, 0);
  real(retval);
  __builtin_unreachable();
}

LOOPSAN_EXPORT int pthread_setname_np(pthread_t thread, const char* name) {
  auto real = REAL(pthread_setname_np);
  if (real == nullptr) return ENOSYS;
  int rc = real(thread, name);
  if (rc == 0) events::thread_named(thread, name);
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
  int rc = real != nullptr
               ? real(option, a2, a3, a4, a5)
               : static_cast<int>(loopsan::sys::call_with(SYS_prctl, option, a2, a3, a4, a5));
  if (rc == 0 && option == PR_SET_NAME && a2 != 0) {
    // The kernel keeps 15 characters and a terminator.
    char name[16];
    strncpy(name, reinterpret_cast<const char*>(a2), sizeof name - 1);
    name[sizeof name - 1] = '\0';
    events::thread_named(pthread_self(), name);
  }
  return rc;
}
