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
  // Whether this thread may be running an event loop, as one word: loop_flags != 0 is the one
  // test every wrapper's fast path makes (loop_tracker.h, maybe_loop_thread).
  union {
    struct {
      uint8_t in_loop;              // an epoll loop (loop_fd, loop_generation, loop_frames)
      uint8_t named_loop;           // the thread's name matched a loop_threads glob
      uint8_t python_loop;          // an asyncio loop is running (asyncio.events._set_running_loop)
      uint8_t poll_loop;            // a poll()/select() loop (poll_site, poll_frames)
      uint8_t explicit_loop_depth;  // nesting of loopsan_loop_enter()
      uint8_t library_loop_depth;   // nesting of known loop functions (uv_run, ...)
      uint8_t unused_[2];
    };
    uint64_t loop_flags;
  };
  // The loop's polling descriptor and the generation it had when the loop started, so that
  // closing it (even from another thread) ends the loop.
  int loop_fd;
  uint32_t loop_generation;
  // The frames above the epoll loop's wait when it started (the wait's caller and its caller):
  // the loop is over once neither is live any more (loop_tracker.cc, frames_live).
  int loop_frames;
  uintptr_t loop_frame_cfa[2];
  uintptr_t loop_frame_ra[2];
  // Nesting depth of loopsan_allow_blocking_begin().
  int allow_blocking_depth;
  // A poll()/select() loop: the call site of its wait, and the frames of the function that
  // waits and of its caller (CFA and the return address stored below it), one of which must
  // still be live for the loop to be (poll_frames = 0: not checked).
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
  // Non-zero while a host signal handler runs on this thread (core/signal_handlers.h), and the
  // outermost trampoline's stack address: read through signal_handlers::in_handler().
  int in_signal;
  uintptr_t signal_frame;
  // --- What the watchdog (core/watchdog.h) reads from another thread. Written only by this
  // thread, on loop threads only; read with relaxed atomic loads, so a value may be one
  // instruction stale, never torn.
  // Returns from the loop's own wait, and whether the thread is inside that wait now
  // (events::PollingWait).
  uint32_t loop_wait_returns;
  uint8_t in_loop_wait;
  // Whether the stall detector watches this thread: 0 not decided yet (the next return from a
  // loop wait asks), 1 yes, 2 no (detectors/loop_stall.h).
  uint8_t stall_watch;
  // Set by the watchdog (the one field it writes) while it sees this thread stalled: the next
  // return from the loop wait tells the stall detector when exactly the stall ended.
  uint8_t stall_open;
  // Nesting of wrapped calls that may block, made on a loop thread (events::BlockingScope), and
  // the outermost one's name and caller.
  uint8_t in_call;
  const char* call_name;
  const void* call_caller;
  // The stack sampler's handshake with this thread (stacks/sampler.h): 0 none, 1 a sample is
  // being decided, 2 its signal is sent. A wrapped call that may block waits for it to settle
  // before it blocks, so that the signal never interrupts the host's own call (EINTR).
  int sample_state;
  // The timeline (report/timeline.h, timeline=1): this thread's ring (null until it records)
  // and when it last left its loop's own wait (0: not in a loop yet).
  void* timeline_ring;
  int64_t timeline_wait_end_ns;
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
