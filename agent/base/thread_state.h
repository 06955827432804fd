// Per-thread state read on every wrapper's fast path. Plain data in initial-exec TLS: no
// constructor, no destructor, no allocation, usable from the first instruction of a thread and
// from signal handlers (DESIGN.md, "Engineering rules").
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "agent/base/fork_gate.h"

namespace loopsan {

struct ThreadRecord;

struct ThreadState {
  // Re-entrancy guard: non-zero while the agent works on this thread. Every wrapper passes
  // straight through to the real function when it is set.
  int guard;
  // Non-zero while this thread runs an event loop (see loop_tracker.h).
  int in_loop;
  // The loop's polling descriptor and the generation it had when the loop started, so that
  // closing it (even from another thread) ends the loop.
  int loop_fd;
  uint32_t loop_generation;
  // The frames above the epoll loop's wait when it started (the wait's caller and its caller):
  // the loop is over once neither is live any more (loop_tracker.cc, frames_live).
  int loop_frames;
  uintptr_t loop_frame_cfa[2];
  uintptr_t loop_frame_ra[2];
  // Nesting depth of loopsan_loop_enter() and of loopsan_allow_blocking_begin().
  int explicit_loop_depth;
  int allow_blocking_depth;
  // The thread's name matched a loop_threads glob.
  int named_loop;
  // An asyncio loop is running on this thread (asyncio.events._set_running_loop).
  int python_loop;
  // Depth of known loop functions (uv_run, event_base_loop, g_main_loop_run, ...) running on
  // this thread: their return ends the loop.
  int library_loop_depth;
  // A poll()/select() loop: the call site of its wait, and the frames of the function that
  // waits and of its caller (CFA and the return address stored below it), one of which must
  // still be live for the loop to be (poll_frames = 0: not checked).
  int poll_loop;
  int poll_confirmed;  // it waited again from its site: a loop, not a one-off poll
  uintptr_t poll_site;
  int poll_frames;
  uintptr_t poll_frame_cfa[2];
  uintptr_t poll_frame_ra[2];
  // The thread's own stack, [stack_lo, stack_hi), once a loop needed it (0: not known yet).
  // Recorded loop frames are read only there: a coroutine may run on a stack that is gone.
  uintptr_t stack_lo, stack_hi;
  // The blocking detector holds findings until this thread's poll loop waits again.
  int pending_confirmations;
  // Non-zero while a host signal handler runs on this thread (core/signal_handlers.h).
  int in_signal;
  // Cached kernel thread id (0 = not read yet); reset in a forked child.
  pid_t tid;
  ThreadRecord* record;
};

extern __thread ThreadState tls_state __attribute__((tls_model("initial-exec")));

// RAII re-entrancy guard for agent work done on behalf of a wrapper. The outermost one of a
// thread is also what a fork() waits for (base/fork_gate.h).
class ReentryGuard {
 public:
  ReentryGuard() {
    if (tls_state.guard++ == 0) fork_gate::enter();
  }
  ~ReentryGuard() {
    if (--tls_state.guard == 0) fork_gate::leave();
  }
  ReentryGuard(const ReentryGuard&) = delete;
  ReentryGuard& operator=(const ReentryGuard&) = delete;
};

pid_t current_tid();

}  // namespace loopsan
