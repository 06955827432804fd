// thread-leak: threads the program left running when it ended.
//
// Native threads (C, C++, anything created with pthread_create): at normal exit (exit() or a
// return from main; the module table's at_exit, from the shim's destructor, after the host's
// own exit handlers and destructors), every thread that was started joinable and is still
// running, never joined and never detached. One finding per place of creation (the
// `created_stack` that the registry kept from the pthread_create() call), listing its threads,
// each with where it stands now: the stack of the system call it is parked in, read from
// outside (agent/stacks/parked_stack.h: no signal at exit), what that call waits for, or
// "running" when it is computing.
//
// Python: CPython waits for every non-daemon thread before it finalizes
// (threading._shutdown). python_hooks.py registers a callback that runs there, just before
// that wait, and hands the threads still alive to python_shutdown_began(), then returns at
// once: some of them are waiting for the main thread to be marked stopped, which _shutdown does
// only after the callbacks (CPython's test_threading joins the main thread that way). The
// watchdog looks again hang_threshold_ms later; those still running then are reported, one
// finding per place where Thread.start() was called, with their Python stacks read holding the
// GIL: the finding is on disk while the process hangs.
//
// Not leaks: detached threads, daemon Python threads, threads that end before the check (a
// thread told to stop by an exit handler), the thread that called exit(), the main thread.
// Neither is a joinable thread that ended but was never joined (a "zombie"): at exit it holds
// nothing that outlives the process. The README's "Thread leaks" says the same for users.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/runtimes/python_bridge.h"

namespace loopsan::thread_leak {

// Module::at_exit.
void check_at_exit();

// A non-daemon Python thread alive when the interpreter began to shut down.
struct PythonThread {
  std::string name;
  long native_id = 0;
  unsigned long ident = 0;  // threading.get_ident(): its pthread_t
};

// From python_hooks.cc, on the thread that runs threading._shutdown (the GIL held): threads
// started at the same place (`created`, the Python stack of the Thread.start() call), alive as
// the interpreter begins to wait for them. Wakes the watchdog's check below.
void python_shutdown_began(std::vector<python::PyFrame> created, std::vector<PythonThread> threads);

// The watchdog's row (core/watchdog.h): reports the threads handed over above that are still
// running hang_threshold_ms after they were.
int64_t period_ns();
bool tick(int64_t now_ns);

// In a fork() child.
void reset_after_fork();

}  // namespace loopsan::thread_leak
