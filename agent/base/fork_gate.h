// fork() and the agent's own work, kept apart without holding any lock across fork().
//
// Holding the agent's locks across fork() (the obvious way to give the child whole tables)
// deadlocks with the host: libraries register fork handlers in their constructors, which run
// before loopsan's, so glibc runs their prepare handlers while loopsan would hold its locks,
// and one of them may wait for a host mutex held by a thread that is itself waiting for
// loopsan (tests/integration/lifecycle_test.cc, host_fork_handlers_never_wait_on_loopsan).
//
// Nor may agent work wait for a fork: a thread that holds a host mutex and re-takes it at once
// (a worker loop) then starves the host's prepare handler that wants the same mutex (measured:
// 200 forks took over 90 s with a 10 ms wait). So correctness never depends on other threads
// being stopped: in the child, each module looks at what it inherited (a Lock still held
// there was held by some thread at the instant of the fork: what it guards is dropped, not
// read; see Lock::reset_after_fork, and the unwinder in stacks/stack.cc). This gate only
// makes such children rare: every piece of agent work is counted (the outermost ReentryGuard
// of a thread), and the shim's fork() waits, up to kDrainNs, for a moment when no other
// thread is inside the agent.
#pragma once

#include <atomic>

namespace loopsan::fork_gate {

extern std::atomic<int> g_inside;

// The outermost ReentryGuard of a thread enters and leaves.
inline void enter() {
  g_inside.fetch_add(1, std::memory_order_relaxed);
}
inline void leave() {
  g_inside.fetch_sub(1, std::memory_order_relaxed);
}

// The forking thread, before the real fork(). `inside_agent`: this thread is itself inside
// agent work (a fork from a signal handler that interrupted it): it does not wait for itself.
void wait_for_quiet_moment(bool inside_agent);
// In the child: only this thread exists; its own agent work, if a signal handler interrupted
// it to fork, resumes afterwards.
void fork_ended_in_child(bool inside_agent);

}  // namespace loopsan::fork_gate
