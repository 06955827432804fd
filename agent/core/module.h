// The agent's modules and their life cycle, declared once in core/modules.cc (the table).
//
// Each module that keeps state says what it does at each phase of the process; the core runs
// the phases over the table, so a new module is one row, not a line in five hand-kept lists.
// Every hook is optional.
//
// Order matters, and is the table's order:
// - init, after_fork_child, thread_exiting and at_exit run first to last: a module may use
//   the modules above it (the report file needs process_info; the registry, the loop tracker).
// - before_fork runs last to first, and after_fork_parent first to last: a module may hold its
//   own lock while it calls into a module above it (report_file's lock, then process_info's),
//   never the other way round, so the forking thread takes the locks in the same order as
//   everyone else.
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
  // fork(): hold every lock that guards what other threads may be changing, so that the
  // child's copy is whole; let go in the parent; in the child, let go and forget what belonged
  // to the threads that do not exist there.
  void (*before_fork)() = nullptr;
  void (*after_fork_parent)() = nullptr;
  void (*after_fork_child)() = nullptr;
  // The calling thread ends (return, pthread_exit or cancellation).
  void (*thread_exiting)() = nullptr;
  // A thread returned from its loop's wait (core/events: loop_wait_end).
  void (*loop_wait_ended)(int epfd) = nullptr;
  // A shared object was unmapped by dlclose(): caches keyed by its address or path are stale.
  void (*library_unloaded)(uintptr_t load_bias, const char* path) = nullptr;
  // At exit, from the shim's destructor while every library is still loaded: exit-time checks.
  void (*at_exit)() = nullptr;
};

namespace modules {

// The table, in order.
const Module* begin();
const Module* end();

}  // namespace modules
}  // namespace loopsan
