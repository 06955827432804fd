// pool-starvation: a task waited in a thread pool's queue for at least
// starvation_threshold_ms because every worker was busy (seed 002's default executor filled
// with blocking calls; seed 003's "limit max_workers").
//
// The pools' registry (core/pools.h) keeps, per pool, its waiting tasks' queue times; the
// first task that comes to a saturated pool wakes this watchdog check, which then looks every
// threshold/4 (10..250 ms) for a waiting task past the threshold (reported while it still
// waits, even if no worker ever comes back) or one that started after waiting that long
// between two ticks. One finding per pool per episode: the episode begins at the report and
// ends at the first tick that finds the pool's queue empty (the summary's "episodes" says how
// long it lasted); the finding says how many tasks were waiting and how many had already
// starved. Tasks of Executor.map never count: a batch queues by design.
#pragma once

#include <cstdint>

namespace loopsan::pool_starvation {

// The watchdog check (core/watchdog.h).
int64_t period_ns();
bool tick(int64_t now_ns);

void reset_after_fork();

}  // namespace loopsan::pool_starvation
