// Deduplication of findings and the counters of the summary, in fixed, lock-free storage so
// that the summary can be written from a fatal-signal handler.
//
// A finding is first looked up by the hash of its raw instruction pointers (cheap: no
// symbolization for the thousandth repeat of a hot bug); a new raw stack then gets its stable
// id (hash of module basenames + offsets, the same from run to run) and, if that id was seen
// already under another address, counts as a repeat of it.
//
// Every repeat also counts for the test open at the time (report/test_attribution.h).
//
// Every occurrence is also counted once on the slot that reports its id (`total`), as it
// happens, so that the summary reads one counter per slot instead of gathering aliases.
#pragma once

#include <atomic>
#include <cstdint>

#include "agent/report/finding.h"

namespace loopsan::finding_table {

constexpr int kCapacity = 4096;

struct Entry {
  std::atomic<uint64_t> raw{0};    // 0 = free slot
  std::atomic<uint64_t> id{0};     // 0 = id not published yet
  std::atomic<uint32_t> count{0};  // occurrences of this raw stack
  // Occurrences of this slot's id counted here: on a slot that is no alias, its own and those
  // of every raw stack aliased to it. On an alias, whatever was seen before it became one, in
  // transit to the canonical slot. The summary's repeats are total - 1.
  std::atomic<uint64_t> total{0};
  std::atomic<int> kind{0};
  std::atomic<int> alias_of{-1};        // slot whose id this raw stack repeats, -1 if none
  std::atomic<bool> suppressed{false};  // matched a suppression: counted apart
};

enum class Claim { kRepeat, kNew, kFull };

// Looks `raw` up; on a repeat bumps its count. kNew means the caller owns slot `*slot` and
// must call publish() with the stable id.
Claim claim(uint64_t raw, Kind kind, int* slot);

// A repeat seen before the finding is built: if `raw` is known, counts it and returns true.
// Lets a detector skip capturing stacks for the thousandth occurrence of a hot bug.
bool count_if_known(uint64_t raw);

// The stable id reported for the raw stack `raw` (0 when unknown, or not published yet).
uint64_t id_of(uint64_t raw);

// Publishes the stable id of a freshly claimed slot. Returns true if that id is new (the
// caller reports the finding), false if it repeats an earlier slot's id (counted there).
// A suppressed finding is kept (its repeats stay cheap) but counts only as suppressed.
bool publish(int slot, uint64_t id, bool suppressed = false);

// A new finding reported while the table was full: counted, never deduplicated.
void count_unslotted(Kind kind);

// Snapshot accessors for the summary (async-signal-safe).
int slots_used();
const Entry& entry(int slot);
uint64_t unique_findings();
uint64_t unique_by_kind(Kind kind);
// Occurrences of suppressed findings, repeats included.
uint64_t suppressed_occurrences();

void reset_after_fork();

}  // namespace loopsan::finding_table
