// The loop-stall detector: a loop thread that has not returned to its loop's own wait for
// stall_threshold_ms (DESIGN.md, `loop-stall`).
//
// Detection needs no signal and costs the loop almost nothing: the loop's own wait publishes,
// in the thread's state, whether the thread is inside it and how many times it returned from
// it (events::PollingWait); the watchdog thread (core/watchdog.h) compares those across its
// ticks, every stall_threshold_ms / 4 while some loop thread is out of its wait, and goes idle
// while every loop waits. A thread out of its wait for the threshold is stalled; from then on
// it is looked at when the stall reaches 1x, 2x, 4x, ... the threshold:
// - computing (its CPU clock advanced by at least half the time since the last look): its
//   stack is sampled by a signal (stacks/sampler.h), with its Python frames inside CPython;
// - parked: never signalled (that would make its wait fail with EINTR); the finding names the
//   call it is parked in (the wrapped call, else the system call of /proc/self/task/TID/syscall).
// The first look writes the finding at once (a process killed afterwards keeps it); a later one
// that finds the thread somewhere new writes another, so a long stall shows where its time
// went. Each finding carries the stall's samples so far; how long each episode lasted in the
// end is in the summary (report/episodes.h). Findings are deduplicated by where the thread
// stalled (function by function, not the exact instruction), so a loop that stalls a thousand
// times in one place gets one finding and a count; new places are limited to
// stall_reports_per_minute.
#pragma once

#include <cstdint>

namespace loopsan::loop_stall {

// The watchdog's check (core/watchdog.cc's table).
int64_t period_ns();
bool tick(int64_t now_ns);

// Module hooks (core/modules.cc): a loop thread returned from its own wait (called only for a
// thread not decided about yet, or when the watchdog asked to hear of it); the thread ends; a
// fork() child.
void loop_waited(int epfd);
void thread_exiting();
void reset_after_fork();

}  // namespace loopsan::loop_stall
