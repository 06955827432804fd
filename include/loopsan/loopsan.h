/* loopsan C API (DESIGN.md, "C API").
 *
 * Header-only on purpose: every function looks libloopsan.so up at run time, so a program
 * built with this header needs no link dependency and runs unchanged without loopsan, where
 * every call is a no-op (and loopsan_active() and loopsan_findings_count() return 0).
 * Under the shim the calls reach the exported functions of the same names, which Python's
 * ctypes (ctypes.CDLL(None)) can call too.
 */
#ifndef LOOPSAN_LOOPSAN_H_
#define LOOPSAN_LOOPSAN_H_

#include <dlfcn.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LOOPSAN_API_VERSION 1

/* The shim's function `name`, or NULL without loopsan. Cached per call site. */
#define LOOPSAN__RESOLVE(cache, name)                                                        \
  (__atomic_load_n(&(cache), __ATOMIC_ACQUIRE) != 0                                          \
       ? (cache)                                                                             \
       : (__atomic_store_n(&(cache), dlsym(((void*)0) /* RTLD_DEFAULT */, name) ?: (void*)1, \
                           __ATOMIC_RELEASE),                                                \
          (cache)))
#define LOOPSAN__CALL(ret, params, name)                         \
  typedef ret(*loopsan__fn_t) params;                            \
  static void* loopsan__fn_cache = 0;                            \
  void* loopsan__fn = LOOPSAN__RESOLVE(loopsan__fn_cache, name); \
  loopsan__fn_t loopsan__typed =                                 \
      loopsan__fn == (void*)1 ? (loopsan__fn_t)0 : (loopsan__fn_t)loopsan__fn;

#if defined(LOOPSAN_SHIM_BUILD)
/* Inside the shim: the declarations of the exported definitions. */
#define LOOPSAN_DECL(ret, name, params) __attribute__((visibility("default"))) ret name params;
LOOPSAN_DECL(int, loopsan_active, (void))
LOOPSAN_DECL(void, loopsan_loop_enter, (const char* name))
LOOPSAN_DECL(void, loopsan_loop_exit, (void))
LOOPSAN_DECL(void, loopsan_allow_blocking_begin, (const char* reason))
LOOPSAN_DECL(void, loopsan_allow_blocking_end, (void))
LOOPSAN_DECL(void, loopsan_future_created, (const void* future))
LOOPSAN_DECL(void, loopsan_future_failed, (const void* future, const char* type, const char* what))
LOOPSAN_DECL(void, loopsan_future_retrieved, (const void* future))
LOOPSAN_DECL(void, loopsan_future_destroyed, (const void* future))
LOOPSAN_DECL(unsigned long long, loopsan_findings_count, (void))
LOOPSAN_DECL(void, loopsan_flush, (void))
LOOPSAN_DECL(void, loopsan_pool_created, (const void* pool, const char* name, int max_workers))
LOOPSAN_DECL(void, loopsan_pool_destroyed, (const void* pool))
LOOPSAN_DECL(void, loopsan_task_queued, (const void* pool, const void* task))
LOOPSAN_DECL(void, loopsan_task_dropped, (const void* pool, const void* task))
LOOPSAN_DECL(void, loopsan_task_started, (const void* pool, const void* task))
LOOPSAN_DECL(void, loopsan_task_finished, (const void* pool, const void* task))
LOOPSAN_DECL(void, loopsan_test_begin, (const char* name))
LOOPSAN_DECL(unsigned long long, loopsan_test_end, (void))
LOOPSAN_DECL(size_t, loopsan_test_report, (char* buf, size_t size))
LOOPSAN_DECL(size_t, loopsan_test_kinds, (char* buf, size_t size))
#undef LOOPSAN_DECL
#else

/* 1 when the program runs under loopsan (and loopsan is not inert), else 0. */
static inline int loopsan_active(void) {
  LOOPSAN__CALL(int, (void), "loopsan_active")
  return loopsan__typed ? loopsan__typed() : 0;
}

/* The calling thread runs an event loop from now until loopsan_loop_exit(): blocking calls on
 * it are findings. For loops loopsan does not recognize by itself. Calls nest. */
static inline void loopsan_loop_enter(const char* name) {
  LOOPSAN__CALL(void, (const char*), "loopsan_loop_enter")
  if (loopsan__typed) loopsan__typed(name);
}
static inline void loopsan_loop_exit(void) {
  LOOPSAN__CALL(void, (void), "loopsan_loop_exit")
  if (loopsan__typed) loopsan__typed();
}

/* Blocking calls between begin and end on this thread are allowed (a known, accepted wait).
 * `reason` documents why. Calls nest. */
static inline void loopsan_allow_blocking_begin(const char* reason) {
  LOOPSAN__CALL(void, (const char*), "loopsan_allow_blocking_begin")
  if (loopsan__typed) loopsan__typed(reason);
}
static inline void loopsan_allow_blocking_end(void) {
  LOOPSAN__CALL(void, (void), "loopsan_allow_blocking_end")
  if (loopsan__typed) loopsan__typed();
}

/* Custom future types. `future` is any address that identifies the future while it lives.
 * failed(): the future now holds an exception (type name and message; the throw stack is the
 * exception in flight, if called from a catch block, else the caller's stack).
 * retrieved(): a consumer received that exception. destroyed(): the future is gone; if it
 * failed and was never retrieved, that is an `unretrieved-exception` finding. */
static inline void loopsan_future_created(const void* future) {
  LOOPSAN__CALL(void, (const void*), "loopsan_future_created")
  if (loopsan__typed) loopsan__typed(future);
}
static inline void loopsan_future_failed(const void* future, const char* type, const char* what) {
  LOOPSAN__CALL(void, (const void*, const char*, const char*), "loopsan_future_failed")
  if (loopsan__typed) loopsan__typed(future, type, what);
}
static inline void loopsan_future_retrieved(const void* future) {
  LOOPSAN__CALL(void, (const void*), "loopsan_future_retrieved")
  if (loopsan__typed) loopsan__typed(future);
}
static inline void loopsan_future_destroyed(const void* future) {
  LOOPSAN__CALL(void, (const void*), "loopsan_future_destroyed")
  if (loopsan__typed) loopsan__typed(future);
}

/* Distinct findings reported so far by this process. */
static inline unsigned long long loopsan_findings_count(void) {
  LOOPSAN__CALL(unsigned long long, (void), "loopsan_findings_count")
  return loopsan__typed ? loopsan__typed() : 0;
}

/* Findings are written as they happen; flush also pushes the report file to storage
 * (fdatasync), e.g. before a test harness snapshots or kills a machine. */
static inline void loopsan_flush(void) {
  LOOPSAN__CALL(void, (void), "loopsan_flush")
  if (loopsan__typed) loopsan__typed();
}

/* Thread pools of your own (pool-starvation). `pool` is any address that identifies the pool
 * while it lives, `task` one that identifies a task from queued() to started() (NULL when the
 * queue is first-in first-out: a started task is then the oldest queued one).
 * pool_created(): its name in reports and its number of workers (0: as many as have started
 * tasks). task_queued(): on the submitting thread, as the task enters the queue; if every
 * worker is busy, loopsan keeps that thread's stack. task_started()/task_finished(): on the
 * worker, around running it (the first call makes the thread a worker of the pool).
 * task_dropped(): it left the queue without running (cancelled). A task that waits
 * starvation_threshold_ms in the queue is a `pool-starvation` finding. */
static inline void loopsan_pool_created(const void* pool, const char* name, int max_workers) {
  LOOPSAN__CALL(void, (const void*, const char*, int), "loopsan_pool_created")
  if (loopsan__typed) loopsan__typed(pool, name, max_workers);
}
static inline void loopsan_pool_destroyed(const void* pool) {
  LOOPSAN__CALL(void, (const void*), "loopsan_pool_destroyed")
  if (loopsan__typed) loopsan__typed(pool);
}
static inline void loopsan_task_queued(const void* pool, const void* task) {
  LOOPSAN__CALL(void, (const void*, const void*), "loopsan_task_queued")
  if (loopsan__typed) loopsan__typed(pool, task);
}
static inline void loopsan_task_dropped(const void* pool, const void* task) {
  LOOPSAN__CALL(void, (const void*, const void*), "loopsan_task_dropped")
  if (loopsan__typed) loopsan__typed(pool, task);
}
static inline void loopsan_task_started(const void* pool, const void* task) {
  LOOPSAN__CALL(void, (const void*, const void*), "loopsan_task_started")
  if (loopsan__typed) loopsan__typed(pool, task);
}
static inline void loopsan_task_finished(const void* pool, const void* task) {
  LOOPSAN__CALL(void, (const void*, const void*), "loopsan_task_finished")
  if (loopsan__typed) loopsan__typed(pool, task);
}

/* Test boundaries, for test harnesses (include/loopsan/boost_test.hpp, gtest.hpp, the pytest
 * plugin). Findings raised while a test is open, on any thread, are attributed to it: their
 * report line gets "test": "<name>", and a repeat of a finding that an earlier test (or no
 * test) raised counts again for this one. Tests do not nest: a begin while a test is open ends
 * that test first. `name` is copied (truncated to 255 bytes). These four calls are not
 * async-signal-safe: call them from the harness's own flow, not from a signal handler. */
static inline void loopsan_test_begin(const char* name) {
  LOOPSAN__CALL(void, (const char*), "loopsan_test_begin")
  if (loopsan__typed) loopsan__typed(name);
}

/* Ends the open test. Returns how many findings (new ones and repeats) were raised during it.
 * Call it after the test's own teardown (in Python, after gc.collect(): unretrieved exceptions
 * are found when futures are destroyed). */
static inline unsigned long long loopsan_test_end(void) {
  LOOPSAN__CALL(unsigned long long, (void), "loopsan_test_end")
  return loopsan__typed ? loopsan__typed() : 0;
}

/* The findings of the last ended test (or of the open one), as text for a failure message: one
 * block per distinct finding, first line "loopsan: <kind>: <message>", then "  at <guilty
 * frame>", "  thread <tid> (<name>, <role>)" and "  report: <path> (id <id>)"; at most 16 KiB,
 * then a line "... and N more findings". Writes at most size-1 bytes plus a NUL and returns the
 * length of the whole text (snprintf): call with (NULL, 0) to size a buffer. */
static inline size_t loopsan_test_report(char* buf, size_t size) {
  LOOPSAN__CALL(size_t, (char*, size_t), "loopsan_test_report")
  if (loopsan__typed) return loopsan__typed(buf, size);
  if (buf && size > 0) buf[0] = 0;
  return 0;
}

/* The distinct kinds of those findings, one per line ("blocking-call\nloop-stall\n"), in the
 * order they were first raised; same conventions. */
static inline size_t loopsan_test_kinds(char* buf, size_t size) {
  LOOPSAN__CALL(size_t, (char*, size_t), "loopsan_test_kinds")
  if (loopsan__typed) return loopsan__typed(buf, size);
  if (buf && size > 0) buf[0] = 0;
  return 0;
}

#endif /* LOOPSAN_SHIM_BUILD */

#ifdef __cplusplus
}
#endif

#endif /* LOOPSAN_LOOPSAN_H_ */
