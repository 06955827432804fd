// gil-contention: CPU-bound Python code run in a thread pool whose workers spend most of their
// time waiting for the GIL: the pool runs that code one worker at a time, with the cost of
// handing the GIL around on top. The advice is a ProcessPoolExecutor (or code that releases
// the GIL).
//
// Measured, not guessed: each thread's time spent waiting for the GIL comes from the
// interpreter's own condition waits (runtimes/gil_waits.h), each worker's CPU time from its
// thread CPU clock, which workers are busy and with what from the pool registry
// (core/pools.h). The watchdog samples them every 100 ms while a Python pool has at least two
// busy workers; the rule is gil_judge.h's (at least 2 computing workers, 40% of their time
// waiting for the GIL, over 200 ms). The finding is written while the episode goes on, with
// the CPU-bound function's Python stack; its end goes to the summary's episodes.
//
// Cost: nothing in a process without a CPython 3.11 (the condition wrappers' compare never
// matches), two clock reads per GIL wait in one, and the watchdog stays asleep until a pool
// worker waits for the GIL (asked at most every 250 ms per thread).
#pragma once

#include <cstdint>

namespace loopsan::gil_contention {

// From events::gil_waited, on the thread that just waited for the GIL (its wait ended at
// `now_ns`): wakes the watchdog's check when this thread is a pool's worker and nothing watches
// the pools yet.
void gil_waited(int64_t now_ns);

// The watchdog's row (core/watchdog.h).
int64_t period_ns();
bool tick(int64_t now_ns);

// In a fork() child.
void reset_after_fork();

}  // namespace loopsan::gil_contention
