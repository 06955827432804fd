// The watchdog's view of threads that wait: which live thread has been parked, in what, for
// what and since when. deadlock.h and hung_wait.h decide from it.
//
// How a wait is seen (no wrapper involved, nothing on the host's fast path): every tick (the
// `waits` row of the watchdog's table, every min(hang_threshold_ms / 4, wait_check_ms [100 ms]),
// at least 10 ms apart, from the
// creation of the process's second thread on) reads each live thread's CPU clock
// (clock_gettime on the clock id computed from its tid: ~1 µs, a system call). A thread whose
// clock did not move since the last tick has not run at all meanwhile: only then is its
// /proc/self/task/TID/syscall read (~12 µs, once per wait: while its clock stays still it is in
// the same call), and the call's arguments name what it waits for (parked_stack.h: a mutex and
// its owner, a joined thread, a std::future). A wait is therefore known from its second tick
// on, and its start to within a tick. The per-thread published wait record measured in the
// research (+0.9 ns on every uncontended lock pair) was not needed: a deadlock or a hang lasts
// for ticks by definition.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "agent/core/thread_registry.h"
#include "agent/report/finding.h"
#include "agent/stacks/parked_stack.h"

namespace loopsan::waits {

struct Waiter {
  registry::LiveThread thread;
  // Its CPU clock did not move over the last tick and the kernel says it is in a system call.
  bool parked = false;
  // Its CPU clock advanced by at least half the wall time of the last tick.
  bool computing = false;
  int64_t since_ns = 0;  // parked since (to within a tick)
  parked::Syscall call;
  parked::WaitTarget target;  // read again at every tick (a mutex's owner can change)
};

// The live threads at this tick, ordered by tid.
using View = std::vector<Waiter>;

// The thread `tid` in the view, or null.
const Waiter* find(const View& view, pid_t tid);

// A futex wait with a timeout (pthread_mutex_timedlock, pthread_timedjoin_np, Python's timed
// lock waits): it ends by itself.
bool timed(const Waiter& w);

// The call a report names for a parked thread: "pthread_mutex_lock", "pthread_join",
// "std::future::wait" when the arguments say so, else the system call's name.
std::string call_name(const Waiter& w);

// A FindingThread for `w`: state, waiting_in, waiting_for, waiting_ms, its stack read from
// outside when parked, its Python stack from `python` (matched by pthread_t) when there is one.
// Call with no agent lock held.
using PythonStacks = python::ThreadStacks;
FindingThread describe(const Waiter& w, int64_t now_ns, const PythonStacks& python,
                       StackId* stack_out = nullptr);
const std::vector<python::PyFrame>* python_stack_of(const Waiter& w, const PythonStacks& python);

// The watchdog check (core/watchdog.h).
int64_t period_ns();
bool tick(int64_t now_ns);

// A thread started (core/events.cc): from the second one on, the check runs.
// Loop thread `tid` has sat in a blocking call past the stall threshold, as loop_stall.h judged
// it at `now_ns` (a reported call, not its loop's idle wait): watched from then on even in a
// single-threaded process, for the hung-wait it may become. Watchdog thread only.
void loop_thread_blocked(pid_t tid, int64_t now_ns);
// When loop_stall.h last judged `tid` so (0: never).
int64_t loop_thread_blocked_at(pid_t tid);
void thread_started();
void reset_after_fork();

}  // namespace loopsan::waits
