#include "agent/report/finding_table.h"

#include "agent/report/test_attribution.h"

namespace loopsan::finding_table {
namespace {

// The summary reads these from a fatal-signal handler.
static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(std::atomic<int>::is_always_lock_free);

Entry entries[kCapacity];
std::atomic<int> used{0};
std::atomic<uint64_t> unique_total{0};
std::atomic<uint64_t> unique_kind[static_cast<int>(Kind::kCount)];

// Moves what `e` counted in its own total to its canonical slot.
void move_total(Entry& e, int canonical) {
  if (uint64_t n = e.total.exchange(0)) entries[canonical].total.fetch_add(n);
}

// Counts one occurrence of slot `e`'s raw stack on the slot that reports its id. publish() may
// make `e` an alias between the load of alias_of and the add, after it moved e's total: the
// second load then sees the alias (the add follows publish()'s exchange, which follows its
// store of alias_of; hence the seq_cst default on these accesses) and moves the straggler.
void count_occurrence(Entry& e) {
  int canonical = e.alias_of.load();
  if (canonical >= 0) {
    entries[canonical].total.fetch_add(1);
    return;
  }
  e.total.fetch_add(1);
  canonical = e.alias_of.load();
  if (canonical >= 0) move_total(e, canonical);
}

}  // namespace

Claim claim(uint64_t raw, Kind kind, int* slot) {
  if (raw == 0) raw = 1;
  // Open addressing with linear probing; slots are never freed, so probing stops at a free
  // slot or after a full cycle.
  for (int probe = 0; probe < kCapacity; ++probe) {
    int i = static_cast<int>((raw + static_cast<uint64_t>(probe)) % kCapacity);
    uint64_t cur = entries[i].raw.load(std::memory_order_acquire);
    if (cur == raw) {
      entries[i].count.fetch_add(1, std::memory_order_relaxed);
      count_occurrence(entries[i]);
      test_attribution::finding_repeated(i);
      return Claim::kRepeat;
    }
    if (cur != 0) continue;
    uint64_t expected = 0;
    if (entries[i].raw.compare_exchange_strong(expected, raw, std::memory_order_acq_rel)) {
      entries[i].kind.store(static_cast<int>(kind), std::memory_order_relaxed);
      // Added, not stored: a repeat of `raw` on another thread may already have counted.
      entries[i].count.fetch_add(1, std::memory_order_relaxed);
      count_occurrence(entries[i]);
      used.fetch_add(1, std::memory_order_relaxed);
      *slot = i;
      return Claim::kNew;
    }
    if (expected == raw) {
      entries[i].count.fetch_add(1, std::memory_order_relaxed);
      count_occurrence(entries[i]);
      test_attribution::finding_repeated(i);
      return Claim::kRepeat;
    }
  }
  return Claim::kFull;
}

bool count_if_known(uint64_t raw) {
  if (raw == 0) raw = 1;
  for (int probe = 0; probe < kCapacity; ++probe) {
    int i = static_cast<int>((raw + static_cast<uint64_t>(probe)) % kCapacity);
    uint64_t cur = entries[i].raw.load(std::memory_order_acquire);
    if (cur == 0) return false;
    if (cur == raw) {
      entries[i].count.fetch_add(1, std::memory_order_relaxed);
      count_occurrence(entries[i]);
      test_attribution::finding_repeated(i);
      return true;
    }
  }
  return false;
}

uint64_t id_of(uint64_t raw) {
  if (raw == 0) raw = 1;
  for (int probe = 0; probe < kCapacity; ++probe) {
    int i = static_cast<int>((raw + static_cast<uint64_t>(probe)) % kCapacity);
    uint64_t cur = entries[i].raw.load(std::memory_order_acquire);
    if (cur == 0) return 0;
    if (cur == raw) return entries[i].id.load(std::memory_order_acquire);
  }
  return 0;
}

bool publish(int slot, uint64_t id, bool suppressed) {
  if (id == 0) id = 1;
  if (suppressed) {
    entries[slot].suppressed.store(true, std::memory_order_relaxed);
    entries[slot].id.store(id, std::memory_order_release);
    return false;
  }
  for (int i = 0; i < kCapacity; ++i) {
    if (i == slot) continue;
    if (entries[i].id.load(std::memory_order_acquire) == id &&
        entries[i].alias_of.load(std::memory_order_relaxed) < 0) {
      entries[slot].alias_of.store(i);
      entries[slot].id.store(id, std::memory_order_release);
      move_total(entries[slot], i);
      return false;
    }
  }
  entries[slot].id.store(id, std::memory_order_release);
  unique_total.fetch_add(1, std::memory_order_relaxed);
  unique_kind[entries[slot].kind.load(std::memory_order_relaxed)].fetch_add(
      1, std::memory_order_relaxed);
  return true;
}

void count_unslotted(Kind kind) {
  unique_total.fetch_add(1, std::memory_order_relaxed);
  unique_kind[static_cast<int>(kind)].fetch_add(1, std::memory_order_relaxed);
}

uint64_t suppressed_occurrences() {
  uint64_t total = 0;
  for (const Entry& e : entries) {
    if (e.suppressed.load(std::memory_order_relaxed)) {
      total += e.count.load(std::memory_order_relaxed);
    }
  }
  return total;
}

int slots_used() {
  return used.load(std::memory_order_relaxed);
}
const Entry& entry(int slot) {
  return entries[slot];
}
uint64_t unique_findings() {
  return unique_total.load(std::memory_order_relaxed);
}
uint64_t unique_by_kind(Kind kind) {
  return unique_kind[static_cast<int>(kind)].load(std::memory_order_relaxed);
}

void reset_after_fork() {
  for (Entry& e : entries) {
    e.raw.store(0, std::memory_order_relaxed);
    e.id.store(0, std::memory_order_relaxed);
    e.count.store(0, std::memory_order_relaxed);
    e.total.store(0, std::memory_order_relaxed);
    e.kind.store(0, std::memory_order_relaxed);
    e.alias_of.store(-1, std::memory_order_relaxed);
    e.suppressed.store(false, std::memory_order_relaxed);
  }
  used.store(0, std::memory_order_relaxed);
  unique_total.store(0, std::memory_order_relaxed);
  for (auto& k : unique_kind) k.store(0, std::memory_order_relaxed);
}

}  // namespace loopsan::finding_table
