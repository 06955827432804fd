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
  uintptr_t key = 0;     // the pool's identity (an executor's id(), a C API pointer)
  PoolKind kind = PoolKind::kCApi;
  std::string name;      // thread_name_prefix, the C API's name, "asio thread_pool"
  int max_workers = 0;   // 0 when unknown
  std::vector<WorkerView> workers;
};

// Every pool with at least one worker, at this moment. From any thread but a signal handler.
std::vector<PoolView> snapshot();

// The pool `tid` works for, if any (the thread registry's `pool` role).
bool is_worker(pid_t tid);

}  // namespace loopsan::pools
