// The agent's modules and their life cycle, declared once in core/modules.cc (the table).
//
// Each module that keeps state says what it does at each phase of the process; the core runs
// the phases over the table, so a new module is one row, not a line in five hand-kept lists.
// Every hook is optional.
//
// Order matters, and is the table's order: every phase runs first to last, and a module may
// use the modules above it (the report file needs process_info; the registry, the loop
// tracker).
#pragma once

#include <cstdint>

namespace loopsan {

struct StartInfo {
  int argc = 0;
  char** argv = nullptr;
  const void* own_code = nullptr;  // any address inside the shim
};

struct Module {
  const char* name;
  // Once, at start-up, after the options are read.
  void (*init)(const StartInfo&) = nullptr;
  // In a fork() child, before anything else runs there: forget what belonged to the threads
  // that do not exist there, and drop (leak) what a lock still held at the fork guards: some
  // thread was changing it (Lock::reset_after_fork, base/fork_gate.h).
  void (*after_fork_child)() = nullptr;
  // The calling thread ends (return, pthread_exit or cancellation).
  void (*thread_exiting)() = nullptr;
  // A thread returned from its loop's own wait (events::PollingWait). Called only while that
  // thread has findings held for confirmation (tls_state.pending_confirmations, the blocking
  // detector) or once a module that needs every wait sets events::g_loop_wait_end_wanted in
  // its init (the stall watchdog will): otherwise the wrappers do not call out for it.
  void (*loop_wait_ended)(int epfd) = nullptr;
  // A shared object was unmapped by dlclose(): caches keyed by its address or path are stale.
  void (*library_unloaded)(uintptr_t load_bias, const char* path) = nullptr;
  // At exit, from the shim's destructor while every library is still loaded: exit-time checks.
  void (*at_exit)() = nullptr;
  // At exit, last of all: from loopsan's on_exit handler, which runs after every exit handler
  // of the host and every library's destructor (libuv joins its thread pool in one), just
  // before the summary line. Libraries are still mapped but finalized: do not call into them.
  void (*after_exit)() = nullptr;
};

namespace modules {

// The table, in order.
const Module* begin();
const Module* end();

}  // namespace modules
}  // namespace loopsan
