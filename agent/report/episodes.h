// How long each reported episode lasted — a loop stall, and later a hung wait — per finding id,
// for the summary. A finding is written the moment its episode is detected (so that a process
// killed afterwards keeps it), when its final duration is not known yet: the episode's end is
// recorded here and the summary line says it ("episodes": {id: {count, total_ms, max_ms}}, and
// "ongoing_ms" for one still running at exit). Fixed storage, lock-free, and readable from a
// fatal-signal handler, like the finding table. Written by the watchdog thread only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "agent/report/finding.h"

namespace loopsan::episodes {

constexpr int kCapacity = 256;

// An episode of the finding `id` (its stable id, as the report prints it) began at `start_ns`
// (monotonic clock) and is still going on. Returns its handle, or -1 when the table is full.
int begin(uint64_t id, int64_t start_ns);
// It ended at `end_ns`.
void end(int handle, int64_t end_ns);

// An episode of `kind` that was detected but not reported (rate limit).
void count_unreported(Kind kind);

// The summary's fields (",\"episodes\":{...}" and ",\"unreported\":{...}"), or nothing when
// there were none; at most `cap` bytes, cut at a whole entry. Async-signal-safe.
size_t write_json(char* out, size_t cap, int64_t now_ns);

void reset_after_fork();

}  // namespace loopsan::episodes
