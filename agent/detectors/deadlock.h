// deadlock: threads that wait for each other in a cycle, reported at the tick that sees the
// cycle closed (within two watchdog ticks of the last thread blocking, whatever
// hang_threshold_ms says).
//
// The wait-for graph has an edge T -> U when T is parked (waits.h: its CPU clock did not move
// over a whole tick) in
//   - a contended pthread_mutex_lock (std::mutex, std::recursive_mutex...) whose owner is U
//     (glibc keeps the owner's tid at mutex+8);
//   - pthread_join of U (std::thread::join; also the wait of a std::async future, which joins
//     the async thread: the producer is known).
// A cycle in which every thread is parked cannot resolve by itself: no thread of it runs. Each
// cycle is reported once (until one of its threads runs again), with every thread's stack read
// from outside at that moment (parked_stack.h: where it blocked, since it has not run since),
// its Python stack, and what it waits for.
//
// Not seen: rwlocks (the futex of a blocked rwlock waiter is at +8 or +12 of the lock, so the
// arguments do not give the lock whose writer to read), condition variables and semaphores
// (no owner), std::promise futures (no producer), Python locks (their owner is not recorded in
// the lock; an RLock's is, in Python objects loopsan does not read yet).
#pragma once

#include "agent/detectors/waits.h"

namespace loopsan::deadlock {

// One tick's view (waits.h), on the watchdog thread.
void check(const waits::View& view, int64_t now_ns);

// The thread a parked waiter waits for (its edge), 0 when none.
pid_t holder_of(const waits::Waiter& w);

// True when `tid` is in a cycle already reported (hung_wait says nothing more about it).
bool in_reported_cycle(pid_t tid);

void reset_after_fork();

}  // namespace loopsan::deadlock
