#include "agent/report/summary.h"

#include <signal.h>
#include <string.h>

#include <atomic>

#include "agent/report/episodes.h"
#include "agent/report/finding_table.h"
#include "agent/stacks/depot.h"
#include "agent/base/options.h"
#include "agent/core/process_info.h"
#include "agent/report/report_file.h"
#include "agent/report/timeline.h"
#include "agent/base/sys.h"
#include "agent/core/thread_registry.h"

namespace loopsan::summary {
namespace {

std::atomic<int> written{0};

// Appends into a fixed buffer; silently truncates (the caller keeps room for the closing
// brackets, so the line stays valid JSON).
class Buffer {
 public:
  Buffer(char* data, size_t cap) : data_(data), cap_(cap) {}
  void str(const char* s) { bytes(s, strlen(s)); }
  void bytes(const char* s, size_t n) {
    for (size_t i = 0; i < n && len_ < cap_; ++i) data_[len_++] = s[i];
  }
  void num(uint64_t v) {
    char tmp[24];
    bytes(tmp, sys::format_u64(tmp, v));
  }
  void snum(int64_t v) {
    if (v < 0) {
      str("-");
      v = -v;
    }
    num(static_cast<uint64_t>(v));
  }
  void hex16(uint64_t v) {
    static constexpr char kHex[] = "0123456789abcdef";
    char tmp[16];
    for (int i = 15; i >= 0; --i, v >>= 4) tmp[i] = kHex[v & 0xF];
    bytes(tmp, 16);
  }
  size_t size() const { return len_; }
  const char* data() const { return data_; }

 private:
  char* data_;
  size_t cap_;
  size_t len_ = 0;
};

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGILL:
      return "SIGILL";
    case SIGFPE:
      return "SIGFPE";
    case SIGABRT:
      return "SIGABRT";
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    case SIGQUIT:
      return "SIGQUIT";
    case SIGHUP:
      return "SIGHUP";
    case SIGPIPE:
      return "SIGPIPE";
    case SIGALRM:
      return "SIGALRM";
    case SIGTRAP:
      return "SIGTRAP";
    case SIGSYS:
      return "SIGSYS";
    case SIGXCPU:
      return "SIGXCPU";
    case SIGXFSZ:
      return "SIGXFSZ";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGUSR2:
      return "SIGUSR2";
    default:
      return "SIG?";
  }
}

const char* how_name(How how) {
  switch (how) {
    case How::kExit:
      return "exit";
    case How::kSignal:
      return "signal";
    case How::kAbort:
      return "abort";
    case How::kExec:
      return "exec";
  }
  return "exit";
}

constexpr size_t kLineCapacity = 1 << 16;
char line_storage[kLineCapacity];
char stderr_storage[8192];

}  // namespace

void write(How how, int status) {
  int expected = 0;
  if (!written.compare_exchange_strong(expected, 1)) return;

  uint64_t findings = finding_table::unique_findings();
  if (findings == 0 && !options().report_always && !report_file::is_open()) return;

  // Leave room for the closing brackets whatever happens.
  Buffer b(line_storage, kLineCapacity - 512);
  b.str("{\"type\":\"summary\",\"findings\":");
  b.num(findings);
  b.str(",\"by_kind\":{");
  bool first = true;
  for (int k = 0; k < static_cast<int>(Kind::kCount); ++k) {
    uint64_t n = finding_table::unique_by_kind(static_cast<Kind>(k));
    if (n == 0) continue;
    if (!first) b.str(",");
    first = false;
    b.str("\"");
    b.str(kind_name(static_cast<Kind>(k)));
    b.str("\":");
    b.num(n);
  }
  b.str("},\"repeats\":{");
  first = true;
  int used = finding_table::slots_used();
  for (int slot = 0, seen = 0; slot < finding_table::kCapacity && seen < used; ++slot) {
    const auto& e = finding_table::entry(slot);
    if (e.raw.load(std::memory_order_acquire) == 0) continue;
    ++seen;
    if (e.alias_of.load(std::memory_order_relaxed) >= 0) continue;
    if (e.suppressed.load(std::memory_order_relaxed)) continue;
    uint64_t id = e.id.load(std::memory_order_acquire);
    if (id == 0) continue;
    // Occurrences after the first, including those seen at other addresses (aliases).
    uint64_t total = e.total.load(std::memory_order_relaxed);
    if (total <= 1) continue;
    if (!first) b.str(",");
    first = false;
    b.str("\"");
    b.hex16(id);
    b.str("\":");
    b.num(total - 1);
  }
  b.str("}");
  if (uint64_t suppressed = finding_table::suppressed_occurrences()) {
    b.str(",\"suppressed\":");
    b.num(suppressed);
  }
  // Episodes (loop stalls) reported when they were detected: how long they lasted in the end.
  static char episodes_storage[16384];
  size_t episodes_len =
      episodes::write_json(episodes_storage, sizeof episodes_storage, sys::monotonic_ns());
  b.bytes(episodes_storage, episodes_len);
  // The stack depot was full: findings after that point have no new stacks (and stackless
  // findings of one kind and call are counted as one).
  if (size_t dropped = depot::stats().dropped) {
    b.str(",\"stacks_dropped\":");
    b.num(dropped);
  }
  size_t deepbind_len = 0;
  const char* deepbind = process_info::deepbind_json(&deepbind_len);
  if (deepbind_len > 0) {
    b.str(",\"deepbind\":[");
    b.bytes(deepbind, deepbind_len);
    b.str("]");
  }
  b.str(",\"threads_created\":");
  b.num(registry::threads_created());
  if (timeline::on()) {
    b.str(",\"timeline_dropped\":");
    b.num(timeline::dropped());
  }
  b.str(",\"exit\":{\"how\":\"");
  b.str(how_name(how));
  b.str("\"");
  if (how == How::kSignal || how == How::kAbort) {
    b.str(",\"signal\":\"");
    b.str(signal_name(status));
    b.str("\"");
  } else if (how == How::kExit) {
    b.str(",\"status\":");
    b.snum(status);
  }
  b.str("},\"duration_ms\":");
  b.snum(process_info::elapsed_ms());
  // Closing: always fits thanks to the reserved room.
  Buffer tail(line_storage + b.size(), 512);
  tail.str("}\n");
  report_file::append_raw_signal_safe(line_storage, b.size() + tail.size());

  if (options().log_to_stderr && findings > 0) {
    Buffer s(stderr_storage, sizeof stderr_storage - 2);
    s.str("==");
    s.num(static_cast<uint64_t>(sys::getpid()));
    s.str("== loopsan: SUMMARY: ");
    s.num(findings);
    s.str(findings == 1 ? " finding (" : " findings (");
    first = true;
    for (int k = 0; k < static_cast<int>(Kind::kCount); ++k) {
      uint64_t n = finding_table::unique_by_kind(static_cast<Kind>(k));
      if (n == 0) continue;
      if (!first) s.str(", ");
      first = false;
      s.str(kind_name(static_cast<Kind>(k)));
      s.str(": ");
      s.num(n);
    }
    s.str("); report: ");
    s.str(report_file::path_cstr());
    s.str("\n");
    sys::write_all(2, s.data(), s.size());
  }
}

void rearm() {
  written.store(0);
}

void reset_after_fork() {
  written.store(0);
}

}  // namespace loopsan::summary
