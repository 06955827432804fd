// Thread pools as loopsan sees them: Python concurrent.futures.ThreadPoolExecutors (told by
// python_hooks.py), C and C++ pools that use the C API (loopsan_task_queued/started/finished),
// and boost::asio's thread_pool. Which threads are whose workers, which of them run a task now
// (and which task), and the tasks still waiting in each pool's queue.
//
// The detectors that judge pools read it: pool-starvation (a task waited too long in the
// queue), gil-contention (a Python pool's workers mostly wait for the GIL), and the thread
// registry's `pool` role.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "agent/core/thread_registry.h"
#include "agent/runtimes/python_bridge.h"
#include "agent/stacks/depot.h"

namespace loopsan::pools {

enum class PoolKind { kPythonExecutor, kCApi, kAsio };

// What a detector needs about one worker, copied.
struct WorkerView {
  pid_t tid = 0;
  unsigned long python_ident = 0;  // threading.get_ident() of a Python worker, else 0
  bool busy = false;               // running a task now
  int64_t busy_since_ns = 0;       // CLOCK_MONOTONIC, when busy
  std::string task;                // the function it runs now, when busy and known
};

struct PoolView {
  uintptr_t key = 0;  // the pool's identity (an executor's id(), a C API pointer)
  PoolKind kind = PoolKind::kCApi;
  std::string name;     // thread_name_prefix, the C API's name, "asio thread_pool"
  int max_workers = 0;  // 0 when unknown
  std::vector<WorkerView> workers;
};

// Every pool with at least one worker, at this moment. From any thread but a signal handler.
std::vector<PoolView> snapshot();

// The pool `tid` works for, if any (the thread registry's `pool` role).
bool is_worker(pid_t tid);

}  // namespace loopsan::pools

// ---------------------------------------------------------------------------------------------
// What the front-ends tell the registry (python_pools.cc for ThreadPoolExecutors, shim/capi.cc
// for the C API), and what pool-starvation reads from it. `key` is the pool's identity for the
// front-end (a work queue's address, the C API's pointer); `task` a task's identity, 0 for a
// FIFO queue whose tasks are not told apart (a ThreadPoolExecutor: its SimpleQueue hands them
// out oldest first, so a worker that takes one takes the oldest).
namespace loopsan::pools {

// Where and how a task that will wait was submitted. Kept only for such tasks (the pool was
// saturated when it came): the common path keeps a timestamp.
struct Submission {
  std::string task;                           // the submitted function
  std::string via;                            // run_in_executor, to_thread, submit, map, C API
  std::vector<python::PyFrame> python_stack;  // the submitting thread's, innermost first
  StackId stack = 0;                          // the submitting thread's native stack
  bool batch = false;    // a batch that queues by design, never starvation: Executor.map, or a
                         // run of submit() calls by one frame off any event loop
  ThreadInfo submitter;  // the thread that submitted it
};

void pool_created(uintptr_t key, PoolKind kind, const std::string& name, int max_workers);
// The pool is gone (collected, destroyed): forget it.
void pool_destroyed(uintptr_t key);

// A task entered the queue of pool `key` at `now_ns`. True when it will wait: every worker is
// busy or already promised to an older waiting task. The first such task wakes the watchdog.
bool task_queued(uintptr_t key, uintptr_t task, int64_t now_ns);
// Whether a task that will wait should have its submission kept: while fewer than 8 waiting
// tasks of the pool have one (a saturated stretch pays for a few stacks, not one per task).
bool wants_submission(uintptr_t key);
// The details of a task task_queued said will wait (for FIFO pools: the newest one).
void task_submission(uintptr_t key, uintptr_t task, Submission submission);
// A task left the queue without running (a cancelled ThreadPoolExecutor's queue drained).
void task_dropped(uintptr_t key, uintptr_t task);
// On the worker thread: it takes `task` from the queue and runs it now (`name` when known) /
// it is done with it. The first call makes the thread a worker of the pool.
void task_started(uintptr_t key, uintptr_t task, const std::string& name, int64_t now_ns);
void task_finished(uintptr_t key, int64_t now_ns);

// True on a thread that has run a task of some pool (cheap: a TLS read).
bool current_is_worker();

// pool-starvation's view of one pool with waiting tasks or starved ones not yet reported.
struct QueueView {
  PoolView pool;
  int busy = 0;
  int waiting = 0;        // tasks in the queue now (batch ones included)
  int64_t oldest_ns = 0;  // when the oldest waiting non-batch task was queued (0: none)
  Submission oldest;      // its submission, when kept
  // Tasks that started after waiting at least the threshold since the last take_starved(),
  // and the longest such wait with that task's submission.
  int starved = 0;
  int64_t starved_max_ns = 0;
  Submission starved_worst;
};
// Every pool with waiting tasks or starved ones, at `threshold_ns`; resets the starved counts.
// Returns false (and stops watching until the next saturated task_queued) when there is none.
bool watch(int64_t threshold_ns, std::vector<QueueView>* out);

// The module table's hooks (core/module.h).
void thread_exiting();
void reset_after_fork();

}  // namespace loopsan::pools
