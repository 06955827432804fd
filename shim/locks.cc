// Mutexes, reader-writer locks, condition variables and semaphores: reported on a loop thread
// when the call waited at least block_threshold_ms (DESIGN.md, class 2).
//
// These run millions of times a second in some hosts. Off a loop thread a wrapper costs the
// real function's load and one TLS test. On a loop thread a lock is first tried without
// waiting: an uncontended lock (the usual case) is taken then, with no clock read at all.
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>

#include <optional>

#include "shim/shim.h"

// glibc's own entry points, which nothing interposes: used while dlsym is still resolving the
// real functions on this thread (REAL() is then null), since a lock cannot "fail". Since glibc
// 2.34 they exist only as compatibility symbols, bound here by version.
extern "C" int __pthread_mutex_lock(pthread_mutex_t* mutex);
extern "C" int __pthread_rwlock_rdlock(pthread_rwlock_t* lock);
extern "C" int __pthread_rwlock_wrlock(pthread_rwlock_t* lock);
__asm__(".symver __pthread_mutex_lock, __pthread_mutex_lock@GLIBC_2.2.5");
__asm__(".symver __pthread_rwlock_rdlock, __pthread_rwlock_rdlock@GLIBC_2.2.5");
__asm__(".symver __pthread_rwlock_wrlock, __pthread_rwlock_wrlock@GLIBC_2.2.5");

namespace {

events::BlockingCall waited(const char* call) {
  return events::BlockingCall{call, THRESHOLD, -1, nullptr};
}

}  // namespace

// The try-first pattern: `try_expr` attempts the lock without waiting (`busy`: it would wait).
// The first lookup of the real function and the loop-thread path are in slow_<symbol>, which
// the wrapper tail-calls, so that the path taken everywhere else has no stack frame (and the
// return address stays the caller's).
#define LOOPSAN_LOCK_WRAPPER(sym, try_expr, busy, params, args, fallback)       \
  static LOOPSAN_SLOW_PATH int slow_##sym params {                              \
    auto real = REAL(sym);                                                      \
    if (real == nullptr) return fallback;                                       \
    if (!events::maybe_loop_thread()) return real args;                         \
    int tried = try_expr;                                                       \
    if (tried != busy) return tried;                                            \
    events::BlockingCall call = waited(#sym);                                   \
    call.caller = __builtin_return_address(0);                                  \
    events::BlockingScope scope(call);                                          \
    return REAL(sym) args;                                                      \
  }                                                                             \
  LOOPSAN_EXPORT int sym params {                                               \
    auto real = REAL_IF_RESOLVED(sym);                                          \
    if (__builtin_expect(real != nullptr && !events::maybe_loop_thread(), 1)) { \
      return real args;                                                         \
    }                                                                           \
    return slow_##sym args;                                                     \
  }

LOOPSAN_LOCK_WRAPPER(pthread_mutex_lock, pthread_mutex_trylock(mutex), EBUSY,
                     (pthread_mutex_t * mutex), (mutex), __pthread_mutex_lock(mutex))
// The timed and clock variants are not tried first: they validate their deadline and clock
// even when the lock is free (EINVAL), which a trylock would skip. They are timed instead.
LOOPSAN_LOCK_WRAPPER(pthread_mutex_timedlock, EBUSY, EBUSY,
                     (pthread_mutex_t * mutex, const timespec* abstime), (mutex, abstime), ENOSYS)
LOOPSAN_LOCK_WRAPPER(pthread_mutex_clocklock, EBUSY, EBUSY,
                     (pthread_mutex_t * mutex, clockid_t clock, const timespec* abstime),
                     (mutex, clock, abstime), ENOSYS)
LOOPSAN_LOCK_WRAPPER(pthread_rwlock_rdlock, pthread_rwlock_tryrdlock(lock), EBUSY,
                     (pthread_rwlock_t * lock), (lock), __pthread_rwlock_rdlock(lock))
LOOPSAN_LOCK_WRAPPER(pthread_rwlock_wrlock, pthread_rwlock_trywrlock(lock), EBUSY,
                     (pthread_rwlock_t * lock), (lock), __pthread_rwlock_wrlock(lock))
LOOPSAN_LOCK_WRAPPER(pthread_rwlock_timedrdlock, EBUSY, EBUSY,
                     (pthread_rwlock_t * lock, const timespec* abstime), (lock, abstime), ENOSYS)
LOOPSAN_LOCK_WRAPPER(pthread_rwlock_timedwrlock, EBUSY, EBUSY,
                     (pthread_rwlock_t * lock, const timespec* abstime), (lock, abstime), ENOSYS)
LOOPSAN_LOCK_WRAPPER(pthread_rwlock_clockrdlock, EBUSY, EBUSY,
                     (pthread_rwlock_t * lock, clockid_t clock, const timespec* abstime),
                     (lock, clock, abstime), ENOSYS)
LOOPSAN_LOCK_WRAPPER(pthread_rwlock_clockwrlock, EBUSY, EBUSY,
                     (pthread_rwlock_t * lock, clockid_t clock, const timespec* abstime),
                     (lock, clock, abstime), ENOSYS)

// sem_trywait reports "would wait" through errno, which the real call then sets again.
// `try_first`: whether an uncontended call may be taken by sem_trywait (untimed only).
#define LOOPSAN_SEM_WRAPPER(sym, try_first, params, args)                                       \
  static LOOPSAN_SLOW_PATH int slow_##sym params {                                              \
    auto real = REAL(sym);                                                                      \
    if (real == nullptr) MISSING_ERRNO;                                                         \
    if (!events::maybe_loop_thread()) return real args;                                         \
    if (try_first) {                                                                            \
      /* sem_wait is a cancellation point even when it need not wait. */                        \
      pthread_testcancel();                                                                     \
      int saved = errno;                                                                        \
      if (sem_trywait(sem) == 0) return 0;                                                      \
      if (errno != EAGAIN) return -1;                                                           \
      errno = saved;                                                                            \
    }                                                                                           \
    events::BlockingCall call = waited(#sym);                                                   \
    call.caller = __builtin_return_address(0);                                                  \
    events::BlockingScope scope(call);                                                          \
    return real args;                                                                           \
  }                                                                                             \
  LOOPSAN_EXPORT int sym params {                                                               \
    auto real = REAL_IF_RESOLVED(sym);                                                          \
    if (__builtin_expect(real != nullptr && !events::maybe_loop_thread(), 1)) return real args; \
    return slow_##sym args;                                                                     \
  }

// The timed variants validate their deadline even when the semaphore is free: not tried first.
LOOPSAN_SEM_WRAPPER(sem_wait, true, (sem_t * sem), (sem))
LOOPSAN_SEM_WRAPPER(sem_timedwait, false, (sem_t * sem, const timespec* abstime), (sem, abstime))
LOOPSAN_SEM_WRAPPER(sem_clockwait, false, (sem_t * sem, clockid_t clock, const timespec* abstime),
                    (sem, clock, abstime))

// A condition wait always waits: it is timed on a loop thread. A wait on one of CPython's GIL
// conditions is also timed on every thread, as that thread's wait for the GIL
// (runtimes/gil_waits.h); the fast path pays one compare for it.
#define LOOPSAN_COND_WRAPPER(sym, params, args)                                                  \
  static LOOPSAN_SLOW_PATH int slow_##sym params {                                               \
    auto real = REAL(sym);                                                                       \
    if (real == nullptr) return ENOSYS;                                                          \
    std::optional<events::GilWait> gil;                                                          \
    if (events::is_gil_cond(cond)) gil.emplace();                                                \
    if (!events::maybe_loop_thread()) return real args;                                          \
    events::BlockingCall call = waited(#sym);                                                    \
    call.caller = __builtin_return_address(0);                                                   \
    events::BlockingScope scope(call);                                                           \
    return real args;                                                                            \
  }                                                                                              \
  LOOPSAN_EXPORT int sym params {                                                                \
    auto real = REAL_IF_RESOLVED(sym);                                                           \
    if (__builtin_expect(                                                                        \
            real != nullptr && !events::maybe_loop_thread() && !events::is_gil_cond(cond), 1)) { \
      return real args;                                                                          \
    }                                                                                            \
    return slow_##sym args;                                                                      \
  }

LOOPSAN_COND_WRAPPER(pthread_cond_wait, (pthread_cond_t * cond, pthread_mutex_t* mutex),
                     (cond, mutex))
LOOPSAN_COND_WRAPPER(pthread_cond_timedwait,
                     (pthread_cond_t * cond, pthread_mutex_t* mutex, const timespec* abstime),
                     (cond, mutex, abstime))
LOOPSAN_COND_WRAPPER(pthread_cond_clockwait,
                     (pthread_cond_t * cond, pthread_mutex_t* mutex, clockid_t clock,
                      const timespec* abstime),
                     (cond, mutex, clock, abstime))

// The GLIBC_2.2.5 versions (LOOPSAN_COMPAT rows), bound by .symver to the old version name;
// the export map defines that version node.
extern "C" __attribute__((visibility("default"))) int loopsan_compat_pthread_cond_wait(
    pthread_cond_t* cond, pthread_mutex_t* mutex) {
  auto real = REAL_COMPAT(pthread_cond_wait_2_2_5, pthread_cond_wait);
  if (real == nullptr) return ENOSYS;
  events::BlockingCall call = waited("pthread_cond_wait");
  call.caller = __builtin_return_address(0);
  events::BlockingScope scope(call);
  return real(cond, mutex);
}
__asm__(".symver loopsan_compat_pthread_cond_wait, pthread_cond_wait@GLIBC_2.2.5");

extern "C" __attribute__((visibility("default"))) int loopsan_compat_pthread_cond_timedwait(
    pthread_cond_t* cond, pthread_mutex_t* mutex, const timespec* abstime) {
  auto real = REAL_COMPAT(pthread_cond_timedwait_2_2_5, pthread_cond_timedwait);
  if (real == nullptr) return ENOSYS;
  events::BlockingCall call = waited("pthread_cond_timedwait");
  call.caller = __builtin_return_address(0);
  events::BlockingScope scope(call);
  return real(cond, mutex, abstime);
}
__asm__(".symver loopsan_compat_pthread_cond_timedwait, pthread_cond_timedwait@GLIBC_2.2.5");
