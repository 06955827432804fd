#include "agent/report/episodes.h"

#include <atomic>
#include <cstring>

#include "agent/base/sys.h"

namespace loopsan::episodes {
namespace {

struct Entry {
  std::atomic<uint64_t> id{0};  // 0: free
  std::atomic<uint64_t> count{0};
  std::atomic<int64_t> total_ns{0};
  std::atomic<int64_t> max_ns{0};
  std::atomic<int64_t> ongoing_since{0};  // 0: none running
};
Entry entries[kCapacity];
std::atomic<uint64_t> unreported[static_cast<int>(Kind::kCount)];

// Appends into a fixed buffer; `ok` turns false once something did not fit.
struct Out {
  char* data;
  size_t cap;
  size_t len = 0;
  bool ok = true;
  void str(const char* s) {
    size_t n = strlen(s);
    if (len + n > cap) {
      ok = false;
      return;
    }
    memcpy(data + len, s, n);
    len += n;
  }
  void num(uint64_t v) {
    char tmp[24];
    size_t n = sys::format_u64(tmp, v);
    tmp[n] = '\0';
    str(tmp);
  }
  void hex16(uint64_t v) {
    static constexpr char kHex[] = "0123456789abcdef";
    char tmp[17];
    for (int i = 15; i >= 0; --i, v >>= 4) tmp[i] = kHex[v & 0xF];
    tmp[16] = '\0';
    str(tmp);
  }
};

}  // namespace

int begin(uint64_t id, int64_t start_ns) {
  if (id == 0) return -1;
  for (int i = 0; i < kCapacity; ++i) {
    uint64_t cur = entries[i].id.load(std::memory_order_acquire);
    if (cur == 0) {
      if (!entries[i].id.compare_exchange_strong(cur, id, std::memory_order_acq_rel) && cur != id) {
        continue;
      }
    } else if (cur != id) {
      continue;
    }
    entries[i].ongoing_since.store(start_ns, std::memory_order_release);
    return i;
  }
  return -1;
}

void end(int handle, int64_t end_ns) {
  if (handle < 0 || handle >= kCapacity) return;
  Entry& e = entries[handle];
  int64_t since = e.ongoing_since.exchange(0, std::memory_order_acq_rel);
  if (since == 0) return;
  int64_t ns = end_ns > since ? end_ns - since : 0;
  e.total_ns.fetch_add(ns, std::memory_order_relaxed);
  if (ns > e.max_ns.load(std::memory_order_relaxed)) e.max_ns.store(ns, std::memory_order_relaxed);
  e.count.fetch_add(1, std::memory_order_release);
}

void count_unreported(Kind kind) {
  int k = static_cast<int>(kind);
  if (k >= 0 && k < static_cast<int>(Kind::kCount)) {
    unreported[k].fetch_add(1, std::memory_order_relaxed);
  }
}

size_t write_json(char* data, size_t cap, int64_t now_ns) {
  Out out{data, cap};
  bool first = true;
  for (const Entry& e : entries) {
    uint64_t id = e.id.load(std::memory_order_acquire);
    if (id == 0) continue;
    uint64_t count = e.count.load(std::memory_order_acquire);
    int64_t since = e.ongoing_since.load(std::memory_order_acquire);
    if (count == 0 && since == 0) continue;
    Out entry{data + out.len, cap - out.len};
    entry.str(first ? ",\"episodes\":{\"" : ",\"");
    entry.hex16(id);
    entry.str("\":{\"count\":");
    entry.num(count);
    entry.str(",\"total_ms\":");
    entry.num(static_cast<uint64_t>(e.total_ns.load(std::memory_order_relaxed)) / 1000000);
    entry.str(",\"max_ms\":");
    entry.num(static_cast<uint64_t>(e.max_ns.load(std::memory_order_relaxed)) / 1000000);
    if (since != 0 && now_ns > since) {
      entry.str(",\"ongoing_ms\":");
      entry.num(static_cast<uint64_t>(now_ns - since) / 1000000);
    }
    entry.str("}");
    // One more closing brace must still fit.
    if (!entry.ok || out.len + entry.len + 1 > cap) break;
    out.len += entry.len;
    first = false;
  }
  if (!first) out.str("}");
  first = true;
  for (int k = 0; k < static_cast<int>(Kind::kCount); ++k) {
    uint64_t n = unreported[k].load(std::memory_order_relaxed);
    if (n == 0) continue;
    out.str(first ? ",\"unreported\":{\"" : ",\"");
    out.str(kind_name(static_cast<Kind>(k)));
    out.str("\":");
    out.num(n);
    first = false;
  }
  if (!first) out.str("}");
  return out.ok ? out.len : 0;
}

void reset_after_fork() {
  for (Entry& e : entries) {
    e.id.store(0, std::memory_order_relaxed);
    e.count.store(0, std::memory_order_relaxed);
    e.total_ns.store(0, std::memory_order_relaxed);
    e.max_ns.store(0, std::memory_order_relaxed);
    e.ongoing_since.store(0, std::memory_order_relaxed);
  }
  for (auto& n : unreported) n.store(0, std::memory_order_relaxed);
}

}  // namespace loopsan::episodes
