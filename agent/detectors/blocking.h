// The blocking-call detector (DESIGN.md, "Blocking-call policy").
//
// The shim opens an events::BlockingScope around the real call of a potentially blocking
// function; on a thread that may run a loop the event reaches begin() and end() here. On a loop
// thread "always" calls (sleeps with a non-zero duration, ...) are reported whatever they last,
// with the stacks captured before the call; "threshold" calls only when they waited at least
// block_threshold_ms, which until then costs a clock read.
#pragma once

#include <string>

#include "agent/events.h"

namespace loopsan::blocking {

// Returns false when the call is not watched (not a loop thread, an allowed scope, a yield).
// Run with the re-entrancy guard set.
bool begin(const events::BlockingCall& call, events::BlockingState& state);
void end(events::BlockingState& state);
// A threshold call (timed by events::BlockingScope) waited block_threshold_ms.
void threshold_exceeded(events::BlockingState& state);

// A function that parks a loop's idle thread on a lock or condition variable rather than on
// its polling set (asio's scheduler): the loop's own idle wait, not a blocking call.
bool is_loop_idle_waiter(const std::string& function);
// Whether a wait in `call` made from `caller` on a loop thread is one this detector reports
// when it lasts (not the interpreter's own wait for the GIL).
bool reports(const char* call, const void* caller);

// Module hooks (core/modules.cc): a loop thread returned from its own wait, which confirms the
// findings held for a poll loop found by its shape; the thread ends (they are dropped).
void loop_waited(int epfd);
void thread_exiting();

}  // namespace loopsan::blocking
