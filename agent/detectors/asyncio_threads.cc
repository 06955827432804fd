#include "agent/detectors/asyncio_threads.h"

#include <utility>

#include "agent/base/json.h"
#include "agent/base/text.h"
#include "agent/core/thread_registry.h"
#include "agent/report/finding.h"
#include "agent/report/reporter.h"
#include "agent/stacks/parked_stack.h"
#include "agent/stacks/stack.h"

namespace loopsan::asyncio_threads {

namespace {

std::string ordinal(int n) {
  const char* suffix = "th";
  if (n % 100 < 11 || n % 100 > 13) {
    if (n % 10 == 1) suffix = "st";
    if (n % 10 == 2) suffix = "nd";
    if (n % 10 == 3) suffix = "rd";
  }
  return cat(n, suffix);
}

Finding on_this_thread(Kind kind, std::vector<python::PyFrame> python_stack) {
  Finding f;
  f.kind = kind;
  f.thread = registry::current_thread_info();
  f.stacks.emplace_back("stack", capture_stack());
  f.python_stacks.emplace_back("python_stack", std::move(python_stack));
  return f;
}

}  // namespace

void cross_thread_call(const CrossThreadCall& what, std::vector<python::PyFrame> python_stack) {
  Finding f = on_this_thread(Kind::kCrossThreadCall, std::move(python_stack));
  std::string loop_name = what.loop_thread_name;
  if (loop_name.empty() && what.loop_tid > 0) loop_name = parked::task_name(what.loop_tid);
  std::string caller = what.thread_name.empty() ? f.thread.name : what.thread_name;
  f.message = cat(what.call, "() was called from thread '", caller,
                  "' while its event loop runs on thread '", loop_name, "' (tid ", what.loop_tid,
                  "): asyncio objects are not thread-safe, so the loop may miss the change or "
                  "corrupt its state; use ",
                  what.alternative);
  f.add_field("call", json_quote(what.call));
  f.add_field("loop_thread",
              cat("{\"tid\":", what.loop_tid, ",\"name\":", json_quote(loop_name), "}"));
  f.add_field("alternative", json_quote(what.alternative));
  f.identity = what.call;
  f.identity_stacks = {"python_stack"};
  reporter::submit(f);
}

void loop_on_pool_thread(const PoolLoop& what, std::vector<python::PyFrame> python_stack) {
  Finding f = on_this_thread(Kind::kLoopOnPoolThread, std::move(python_stack));
  if (!what.pool.empty()) {
    f.message = cat("an event loop was started on a worker of thread pool '", what.pool, "'",
                    what.max_workers > 0 ? cat(" (max_workers ", what.max_workers, ")") : "",
                    ", the ", ordinal(what.pool_loops),
                    " loop started on that pool: each task gets a loop of its own, so "
                    "objects bound to another loop fail and the pool's workers block while "
                    "their loops run; await the coroutine on the program's loop (or "
                    "asyncio.run_coroutine_threadsafe), or give the loop a dedicated thread");
    f.add_field("pool", cat("{\"name\":", json_quote(what.pool), ",\"workers\":", what.max_workers,
                            ",\"loops_started\":", what.pool_loops, "}"));
  } else {
    f.message =
        cat("an event loop was started on thread '",
            what.thread_name.empty() ? f.thread.name : what.thread_name, "', which has run ",
            what.thread_loops - 1, " other loop", what.thread_loops == 2 ? "" : "s",
            " before: a thread that runs one loop after another is a pool by another "
            "name; keep one loop on a dedicated thread and hand it work with "
            "asyncio.run_coroutine_threadsafe");
  }
  f.add_field("thread_loops", cat(what.thread_loops));
  f.identity_stacks = {"python_stack"};
  reporter::submit(f);
}

void abandoned_future(const Abandoned& what, std::vector<python::PyFrame> python_stack) {
  Finding f = on_this_thread(Kind::kAbandonedFuture, std::move(python_stack));
  std::string why =
      what.exception_type.empty()
          ? std::string("its loop was closed")
          : cat("its loop ended when ",
                what.coroutine.empty() ? std::string("a callback")
                                       : cat("coroutine ", what.coroutine, "()"),
                " raised ", what.exception_type,
                " (run_coroutine_threadsafe passes SystemExit and KeyboardInterrupt to the loop "
                "instead of the future)");
  if (what.waiting) {
    f.message =
        cat("a thread waits without a timeout for a future of "
            "asyncio.run_coroutine_threadsafe that can never complete: ",
            why, "; it will wait for ever");
  } else {
    f.message =
        cat(what.futures, what.futures == 1 ? " future" : " futures",
            " of asyncio.run_coroutine_threadsafe can never complete: ", why, " while ",
            what.futures == 1 ? "it was" : "they were", " pending",
            what.waiters > 0
                ? cat("; ", what.waiters, what.waiters == 1 ? " thread is" : " threads are",
                      " waiting on ", what.futures == 1 ? "it" : "them", " now")
                : std::string("; result() or exception() without a timeout will wait for ever"));
  }
  if (!what.exception_type.empty()) {
    f.add_field("exception", cat("{\"type\":", json_quote(what.exception_type),
                                 ",\"what\":", json_quote(what.exception_what), "}"));
    f.python_stacks.emplace_back("throw_python_stack", what.thrown);
  }
  if (!what.coroutine.empty()) f.add_field("coroutine", json_quote(what.coroutine));
  f.add_field("futures", cat(what.futures));
  f.add_field("waiters", cat(what.waiters));
  f.add_field("waiting", what.waiting ? "true" : "false");
  f.python_stacks.emplace_back("created_python_stack", what.created);
  f.identity = what.waiting ? "waiting" : "ended";
  f.identity_stacks = what.waiting
                          ? std::vector<std::string>{"python_stack", "created_python_stack"}
                          : std::vector<std::string>{"created_python_stack", "throw_python_stack"};
  reporter::submit(f);
}

}  // namespace loopsan::asyncio_threads
