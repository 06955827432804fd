// The host's signal handlers run through a trampoline that marks the thread as "in a signal
// handler" (tls_state.in_signal) for as long as the handler runs. A handler may legally call
// wait(), write() or sem_post() (async-signal-safe); on a loop thread those reach the
// blocking detector, which must then neither allocate nor take a lock, since the code the
// signal interrupted may hold the allocator's. Fatal signals are not routed here: loopsan's
// summary handler owns them (report/fatal_signals.h).
#pragma once

#include <signal.h>

#include <cstdint>

#include "agent/base/thread_state.h"

namespace loopsan::signal_handlers {

// sigaction() for a signal loopsan does not watch: installs the trampoline in place of a
// handler function, and gives back the host's own handler in `oldact`.
using RealSigaction = int (*)(int, const struct sigaction*, struct sigaction*);
int host_sigaction(RealSigaction real, int sig, const struct sigaction* act,
                   struct sigaction* oldact);

// True once a host handler ran for a signal that asks a process to stop (SIGTERM, SIGINT,
// SIGHUP, SIGQUIT): the process is shutting down on request (detectors/thread_leak.h).
bool stop_requested();

// True while a host signal handler runs on this thread. A handler that left by siglongjmp (a
// REPL's SIGINT) never counted itself out: off the alternate signal stack, a stack address
// above the outermost trampoline's is outside any handler (the stack grows down; a handler on
// the alternate stack stays counted, and nested handlers of one that runs there run there).
bool left_handlers(uintptr_t here);
inline bool in_handler() {
  ThreadState& t = tls_state;
  if (t.in_signal == 0) return false;
  char here;
  if (left_handlers(reinterpret_cast<uintptr_t>(&here))) {
    t.in_signal = 0;
    return false;
  }
  return true;
}

}  // namespace loopsan::signal_handlers
