// The watchdog: loopsan's one helper thread, for what no wrapper can see because nothing is
// called — a loop stuck in a callback, a wait that never ends.
//
// It runs a small table of periodic checks (watchdog.cc, kChecks), each with its own period,
// and costs nothing while none of them has anything to watch: the thread is started the first
// time a check is woken (lazily: a process without a loop never gets it), sleeps on a futex
// with no timeout while every check is idle, and ticks only while some check says it still has
// work. It is started with the real pthread_create (no registry record, no findings about
// itself, no thread-start event), blocks every signal, and sets its re-entrancy guard for good,
// so every wrapper it reaches passes straight through. A fork() child starts its own when it
// next needs one; at exit it stops ticking.
//
// A check that goes idle and must hear of the next event that needs it without taxing the
// host's fast path uses heavy_barrier(): the host's side of the handshake is a plain store, a
// compiler barrier and a load (membarrier(2), MEMBARRIER_CMD_PRIVATE_EXPEDITED: the asymmetric
// fence).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>

namespace loopsan::watchdog {

// The periodic checks, by row of the table (watchdog.cc).
enum CheckId : int {
  kLoopStall,       // detectors/loop_stall.h
  kWaits,           // detectors/waits.h: deadlock and hung-wait
  kThreadLeak,      // detectors/thread_leak.h: Python threads still running after shutdown began
  kPoolStarvation,  // detectors/pool_starvation.h: tasks waiting in a saturated pool's queue
  kGilContention,   // detectors/gil_contention.h: Python pools' workers waiting for the GIL
  kTimeline,        // report/timeline.h: writes the threads' timeline events (timeline=1)
  kCheckCount
};

struct Check {
  const char* name;
  // Its period while it has work; read at each tick (options may set it).
  int64_t (*period_ns)();
  // One tick, on the watchdog thread, with the re-entrancy guard set and counted as agent
  // work (a fork waits for it to end). Returns true while the check still has something to
  // watch, false to go idle until the next wake(its id).
  bool (*tick)(int64_t now_ns);
};

// Something needs check `id`: starts the thread if there is none yet and makes the check run
// at once, then every period while it says it has work. Callable from any thread (not from a
// signal handler); a no-op where the thread cannot be started.
void wake(CheckId id);

// True on the watchdog thread itself.
bool on_watchdog_thread();
// The watchdog's kernel thread id, 0 while it has not started.
pid_t thread_id();

// Orders the watchdog's earlier stores before its later loads on every other running thread
// of the process (membarrier). False when the kernel lacks it: callers then must not rely on
// the host's side being a plain store.
bool heavy_barrier();

// Statistics, for tests and the README: wake-ups of the thread so far.
uint64_t wakeups();

// The module table's hooks (core/module.h): in a fork() child (no watchdog there any more),
// and at exit (no more ticks: the process is tearing down).
void reset_after_fork();
void stop();

}  // namespace loopsan::watchdog
