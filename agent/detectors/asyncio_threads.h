// Three findings about asyncio objects used across threads, reported from python_hooks.py
// (the Python side sees the objects; these functions turn what it saw into findings). Each is
// called on the thread concerned, holding the GIL, with that thread's Python stack already
// stripped of loopsan's own frames.
//
// - cross-thread-call: a method that is not thread-safe (loop.call_soon, Future.set_result,
//   Queue.put_nowait, ...) called from a thread other than the one running its loop.
// - loop-on-pool-thread: an event loop started on a ThreadPoolExecutor worker, or on a
//   non-main thread that already ran another loop.
// - abandoned-future: a run_coroutine_threadsafe() future whose loop ended (or was closed)
//   while it was pending, so that it can never complete; and a thread that then waits on it
//   without a timeout.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "agent/runtimes/python_bridge.h"

namespace loopsan::asyncio_threads {

struct CrossThreadCall {
  std::string call;              // what the program called: "loop.call_soon", "Future.set_result"
  std::string alternative;       // the thread-safe way to do it
  pid_t loop_tid = 0;            // the kernel tid of the loop's thread, 0 if unknown
  std::string loop_thread_name;  // threading's names of the loop's thread and of the caller
  std::string thread_name;       // (the kernel's are "python3" for every Python thread)
};
void cross_thread_call(const CrossThreadCall& what, std::vector<python::PyFrame> python_stack);

struct PoolLoop {
  std::string pool;  // the executor's thread_name_prefix or class, empty: not a pool worker
  int max_workers = 0;
  int pool_loops = 0;       // loops started on the pool's workers so far, this one included
  int thread_loops = 0;     // distinct loops this thread has run, this one included
  std::string thread_name;  // threading's name of the thread
};
void loop_on_pool_thread(const PoolLoop& what, std::vector<python::PyFrame> python_stack);

struct Abandoned {
  std::string exception_type;  // empty: the loop was closed, no exception ended it
  std::string exception_what;
  std::vector<python::PyFrame> thrown;   // the exception's traceback, innermost first
  std::vector<python::PyFrame> created;  // where run_coroutine_threadsafe() was called
  std::string coroutine;                 // the coroutine that raised it, if one did
  int futures = 0;                       // pending futures created at `created`
  int waiters = 0;                       // threads waiting on them as the loop ended
  bool waiting = false;                  // a thread starts waiting on one (the caller)
};
void abandoned_future(const Abandoned& what, std::vector<python::PyFrame> python_stack);

}  // namespace loopsan::asyncio_threads
