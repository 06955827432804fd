// hung-wait: a thread that has waited for a result for at least hang_threshold_ms, reported
// once per episode, the moment it crosses the threshold, with every live thread's native and
// Python stack and what each waits in and for how long (the "all-thread dump" people take with
// gdb or py-spy dump). When the wait ends, the episode's final duration goes to the summary
// ("episodes": "resolved after N ms").
//
// Which waits (the idle-worker rule; the README says the same):
//   - a loop thread inside a blocking call (not its loop's own wait), whatever it waits for:
//     its loop is frozen, and the blocking-call finding comes only if the call returns;
//   - a wait for a result: pthread_join (std::thread::join, std::async's future), a
//     std::future wait, a contended mutex; in Python, Future.result()/exception()/wait and
//     Thread.join() on any thread, and a threading lock/condition/event wait on the main
//     thread (its innermost Python frames say which);
//   - followed through what it waits for (a mutex's owner, the joined thread) to the thread at
//     the end of the chain, it is a hang unless that thread is computing (work in progress) or
//     waits for the outside world: a descriptor, poll/epoll/select, a sleep, a signal, a child
//     process, or its own event loop's wait (a server's main joining its loop threads). A
//     Python wait does not say whom it waits for: a hang only while no other thread may still
//     end it (none running, waiting for the outside world, sleeping or in a timed wait).
//   - anything else is not a hang however long it lasts: a condition variable, semaphore or
//     futex wait with no known owner is a thread waiting for work (an idle pool worker on its
//     queue), and so are descriptor and poll waits (a loop idle in its wait).
// A thread in a deadlock cycle already reported (deadlock.h) is not reported again here.
#pragma once

#include "agent/detectors/waits.h"

namespace loopsan::hung_wait {

// One tick's view (waits.h), on the watchdog thread.
void check(const waits::View& view, int64_t now_ns);

void reset_after_fork();

}  // namespace loopsan::hung_wait
