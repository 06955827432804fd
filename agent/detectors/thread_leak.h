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
// that wait; it gives the threads still alive hang_threshold_ms to end and hands those that do
// not to report_python() (one finding per place where Thread.start() was called), then lets
// CPython go on waiting, as it would have: the finding is on disk while the process hangs.
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

// A Python thread still alive after the wait.
struct PythonThread {
  std::string name;
  long native_id = 0;
  std::vector<python::PyFrame> stack;  // innermost first
};

// From python_hooks.cc, on the thread that runs threading._shutdown (the GIL held): threads
// started at the same place (`created`, the Python stack of the Thread.start() call), still
// running after `waited_ms`.
void report_python(int64_t waited_ms, std::vector<python::PyFrame> created,
                   const std::vector<PythonThread>& threads);

}  // namespace loopsan::thread_leak
