#include "agent/report/test_attribution.h"

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <new>

#include "agent/base/json.h"
#include "agent/base/lock.h"
#include "agent/base/text.h"
#include "agent/core/process_info.h"
#include "agent/report/finding_table.h"
#include "agent/report/reporter.h"

namespace loopsan::test_attribution {
namespace {

constexpr size_t kNameCap = 256;
// A failure message people read, not a report: beyond this, findings are only counted.
constexpr size_t kExcerptCap = 16 * 1024;
constexpr size_t kMessageCap = 1024;
// Distinct findings listed per test (in its excerpt and its report line).
constexpr int kIdsCap = 64;

// The generation of the open test, 0 when none: read without the lock on every finding.
std::atomic<uint64_t> open_generation{0};

// Each written finding's excerpt block as a repeat shows it, by finding-table slot: written once
// per distinct finding and never freed (bounded by the table's capacity), so that counting a
// repeat in a test allocates nothing.
std::atomic<std::string*> repeat_blocks[finding_table::kCapacity];

struct IdCount {
  uint64_t id;
  uint64_t count;
};

// The open test, or the last one ended: fixed storage, whatever the number of tests.
struct Record {
  uint64_t generation = 0;
  bool open = false;
  char name[kNameCap] = {};
  uint64_t findings = 0;
  char excerpt[kExcerptCap] = {};
  size_t excerpt_len = 0;
  uint64_t omitted = 0;  // findings whose block did not fit in the excerpt
  IdCount ids[kIdsCap] = {};
  int id_count = 0;
  uint64_t more_ids = 0;  // occurrences of findings whose id did not fit in `ids`
  Kind kinds[static_cast<int>(Kind::kCount)] = {};
  int kind_count = 0;
};

Lock lock;
Record record;
uint64_t last_generation = 0;

// Set while this thread holds `lock`. A finding raised by code that interrupted it (a signal
// handler's blocking call, a future destroyed there) skips the test instead of deadlocking.
__thread int holding __attribute__((tls_model("initial-exec")));

class Held {
 public:
  Held() {
    holding = 1;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    lock.lock();
  }
  ~Held() {
    lock.unlock();
    std::atomic_signal_fence(std::memory_order_seq_cst);
    holding = 0;
  }
  Held(const Held&) = delete;
  Held& operator=(const Held&) = delete;
};

void count(uint64_t generation, Kind kind, uint64_t id, const std::string& text) {
  if (holding != 0) return;
  Held g;
  Record& r = record;
  if (!r.open || r.generation != generation) return;
  ++r.findings;
  bool known_kind = false;
  for (int i = 0; i < r.kind_count; ++i) known_kind |= r.kinds[i] == kind;
  if (!known_kind) r.kinds[r.kind_count++] = kind;
  for (int i = 0; i < r.id_count; ++i) {
    if (r.ids[i].id == id) {
      ++r.ids[i].count;
      return;  // its block is in the excerpt already (or was left out)
    }
  }
  if (r.id_count < kIdsCap) {
    r.ids[r.id_count++] = IdCount{id, 1};
  } else {
    // Past the cap an id cannot be told from one seen before: count it, and keep the
    // excerpt to one block per distinct finding rather than repeat a block per occurrence.
    ++r.more_ids;
    ++r.omitted;
    return;
  }
  if (r.excerpt_len + text.size() <= kExcerptCap) {
    memcpy(r.excerpt + r.excerpt_len, text.data(), text.size());
    r.excerpt_len += text.size();
  } else {
    ++r.omitted;
  }
}

// Ends the open test; returns its report line, "" when it raised nothing. Lock held.
std::string close_locked() {
  Record& r = record;
  r.open = false;
  open_generation.store(0, std::memory_order_release);
  if (r.findings == 0) return {};
  JsonWriter w;
  w.begin_object()
      .field("type", "test")
      .field("name", std::string_view(r.name))
      .field("time_ms", process_info::elapsed_ms())
      .field("findings", r.findings);
  w.key("ids").begin_object();
  char id_text[17];
  for (int i = 0; i < r.id_count; ++i) {
    snprintf(id_text, sizeof id_text, "%016" PRIx64, r.ids[i].id);
    w.field(id_text, r.ids[i].count);
  }
  w.end_object();
  if (r.more_ids != 0) w.field("more_ids", r.more_ids);
  w.end_object();
  return w.take();
}

// snprintf semantics over the pieces of `text`.
size_t copy_out(char* buf, size_t size, const char* a, size_t a_len, const char* b, size_t b_len) {
  if (size > 0 && buf != nullptr) {
    size_t n = a_len < size - 1 ? a_len : size - 1;
    memcpy(buf, a, n);
    size_t m = b_len < size - 1 - n ? b_len : size - 1 - n;
    memcpy(buf + n, b, m);
    buf[n + m] = '\0';
  }
  return a_len + b_len;
}

}  // namespace

// The C API's calls are not async-signal-safe (loopsan.h); a harness that calls one from a
// handler that interrupted this thread inside count() gets nothing instead of a deadlock.
void begin(const char* name) {
  if (holding != 0) return;
  std::string line;
  {
    Held g;
    Record& r = record;
    if (r.open) line = close_locked();
    size_t n = name != nullptr ? strnlen(name, kNameCap - 1) : 0;
    // Never cut a UTF-8 sequence in two.
    if (n == kNameCap - 1) {
      while (n > 0 && (static_cast<unsigned char>(name[n]) & 0xC0) == 0x80) --n;
    }
    if (n > 0) memcpy(r.name, name, n);
    r.name[n] = '\0';
    r.findings = 0;
    r.excerpt_len = 0;
    r.omitted = 0;
    r.id_count = 0;
    r.more_ids = 0;
    r.kind_count = 0;
    r.generation = ++last_generation;
    r.open = true;
    open_generation.store(r.generation, std::memory_order_release);
  }
  if (!line.empty()) reporter::write_record(line);
}

uint64_t end() {
  if (holding != 0) return 0;
  std::string line;
  uint64_t findings = 0;
  {
    Held g;
    if (!record.open) return 0;
    line = close_locked();
    findings = record.findings;
  }
  if (!line.empty()) reporter::write_record(line);
  return findings;
}

size_t report(char* buf, size_t size) {
  if (holding != 0) return copy_out(buf, size, "", 0, "", 0);
  Held g;
  char more[64];
  int more_len = 0;
  if (record.omitted != 0) {
    more_len = snprintf(more, sizeof more, "... and %" PRIu64 " more findings\n", record.omitted);
  }
  return copy_out(buf, size, record.excerpt, record.excerpt_len, more,
                  static_cast<size_t>(more_len));
}

size_t kinds(char* buf, size_t size) {
  if (holding != 0) return copy_out(buf, size, "", 0, "", 0);
  Held g;
  char text[static_cast<int>(Kind::kCount) * 40];
  size_t len = 0;
  for (int i = 0; i < record.kind_count; ++i) {
    const char* name = kind_name(record.kinds[i]);
    size_t n = strlen(name);
    if (len + n + 1 > sizeof text) break;
    memcpy(text + len, name, n);
    text[len + n] = '\n';
    len += n + 1;
  }
  return copy_out(buf, size, text, len, "", 0);
}

OpenTest open_test() {
  uint64_t generation = open_generation.load(std::memory_order_acquire);
  if (generation == 0 || holding != 0) return {};
  Held g;
  if (!record.open || record.generation != generation) return {};
  return OpenTest{generation, record.name};
}

std::string excerpt_block(Kind kind, const std::string& message, const std::string& where,
                          const ThreadInfo& thread, const std::string& report_path,
                          const char* id_text) {
  std::string text = cat("loopsan: ", kind_name(kind), ": ");
  if (message.size() > kMessageCap) {
    append(text, std::string_view(message).substr(0, kMessageCap), "...");
  } else {
    append(text, message);
  }
  append(text, "\n  at ", where.substr(0, kMessageCap), "\n  thread ", thread.tid, " (",
         thread.name, ", ", role_name(thread.role),
         ")\n  report: ", report_path.empty() ? std::string("-") : report_path, " (id ", id_text);
  return text;
}

void finding_written(int slot, const OpenTest& ticket, Kind kind, uint64_t id, std::string block) {
  if (ticket.generation != 0) count(ticket.generation, kind, id, cat(block, ")\n"));
  if (slot < 0) return;
  std::string* expected = nullptr;
  auto* kept = new std::string(cat(block, ", a repeat of an earlier finding)\n"));
  if (!repeat_blocks[slot].compare_exchange_strong(expected, kept, std::memory_order_acq_rel)) {
    delete kept;
  }
}

void finding_repeated(int slot) {
  uint64_t generation = open_generation.load(std::memory_order_acquire);
  if (generation == 0 || slot < 0) return;
  int canonical = finding_table::entry(slot).alias_of.load();
  if (canonical < 0) canonical = slot;
  const finding_table::Entry& e = finding_table::entry(canonical);
  // Not written yet (its first occurrence is being reported on another thread), or suppressed.
  const std::string* block = repeat_blocks[canonical].load(std::memory_order_acquire);
  if (block == nullptr || e.suppressed.load(std::memory_order_relaxed)) return;
  count(generation, static_cast<Kind>(e.kind.load(std::memory_order_relaxed)),
        e.id.load(std::memory_order_acquire), *block);
}

void reset_after_fork() {
  // The child's finding table starts empty: its slots will hold other findings.
  for (auto& b : repeat_blocks) b.store(nullptr, std::memory_order_relaxed);
  if (lock.reset_after_fork()) {
    // Torn by the fork: start the child with no test rather than read it.
    new (&record) Record();
    open_generation.store(0, std::memory_order_relaxed);
  }
}

}  // namespace loopsan::test_attribution
