#include "agent/report/timeline.h"

#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "agent/base/json.h"
#include "agent/base/lock.h"
#include "agent/base/options.h"
#include "agent/base/sys.h"
#include "agent/base/thread_state.h"
#include "agent/core/process_info.h"
#include "agent/core/signal_handlers.h"
#include "agent/core/thread_registry.h"
#include "agent/core/watchdog.h"
#include "agent/events.h"
#include "agent/report/report_file.h"

namespace loopsan::timeline {

namespace {

// A second of a busy loop's 1 ms spans fits with room to spare; the drain runs every second.
constexpr uint32_t kRingSize = 1024;
// Per process: a million events are ~40 MB of report, more than a browser wants to draw.
constexpr uint64_t kTotalCap = 1000000;
// Live rings (24 KiB each, freed only once their thread has exited and been drained): a
// thread-per-task program would otherwise grow without bound. 256 rings are ~6 MiB; the events
// of a thread that finds them all taken are counted as dropped (it tries again on its next
// span, as exited threads' rings are freed).
constexpr int kMaxRings = 256;
// A line stays well under 64 KiB: flushed once it passes this.
constexpr size_t kLineFlush = 60000;
constexpr int kNames = 256;
constexpr size_t kNameLen = 64;

const char* const kCodeNames[kCodeEnd] = {"",    "busy", "block", "queue", "task",
                                          "gil", "loop", "start", "exit",  "loop_end"};

struct Event {
  int64_t start_ns;
  int64_t dur_ns;
  uint16_t code;
  uint16_t arg;  // an interned name, 0 = none
};

struct Ring {
  std::atomic<uint32_t> head{0};  // the owner's
  std::atomic<uint32_t> tail{0};  // the drain's
  std::atomic<bool> exited{false};
  pid_t tid = 0;
  std::atomic<uint8_t> loop_seen{0}, pool_seen{0};
  bool loop_open = false;      // the owner's: a loop start was recorded and no loop end since
  char name[16] = {};          // at exit, for the lines written after it
  const char* role = nullptr;  // at exit
  Ring* next = nullptr;
  Event events[kRingSize];
};

Lock list_lock;  // the list of rings: a thread adds its own, the drain removes exited ones
Ring* rings = nullptr;
Lock drain_lock;  // one drain at a time (the watchdog's tick, the exit drain)
std::atomic<uint64_t> total{0};
std::atomic<uint64_t> dropped_count{0};

// Names (calls, pools), copied once: an entry is written before `name_count` publishes it.
Lock names_lock;
char names[kNames][kNameLen];
std::atomic<int> name_count{1};  // 0 means "no name"

uint16_t intern(const char* s) {
  if (s == nullptr || *s == '\0') return 0;
  int n = name_count.load(std::memory_order_acquire);
  for (int i = 1; i < n; ++i) {
    if (strncmp(names[i], s, kNameLen - 1) == 0) return static_cast<uint16_t>(i);
  }
  LockGuard g(names_lock);
  n = name_count.load(std::memory_order_relaxed);
  for (int i = 1; i < n; ++i) {
    if (strncmp(names[i], s, kNameLen - 1) == 0) return static_cast<uint16_t>(i);
  }
  if (n >= kNames) return 0;
  strncpy(names[n], s, kNameLen - 1);
  names[n][kNameLen - 1] = '\0';
  name_count.store(n + 1, std::memory_order_release);
  return static_cast<uint16_t>(n);
}

std::atomic<int> live_count{0};  // rings allocated and not yet freed, at most kMaxRings

// What a thread's ring pointer holds once the thread has exited: TLS destructors that run
// after thread_exiting may still record, and a ring created then would never be marked
// exited (nor freed). Never dereferenced.
Ring* const kExitedRing = reinterpret_cast<Ring*>(uintptr_t{1});

Ring*& own_ring() {
  return *reinterpret_cast<Ring**>(&tls_state.timeline_ring);
}

void push(Ring* r, Code code, int64_t start_ns, int64_t dur_ns, uint16_t arg) {
  uint32_t h = r->head.load(std::memory_order_relaxed);
  if (h - r->tail.load(std::memory_order_acquire) >= kRingSize) {
    dropped_count.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // After the ring-full check: only events that would be stored count against the cap (an
  // event dropped for a full ring must not use up the process's budget).
  if (total.fetch_add(1, std::memory_order_relaxed) >= kTotalCap) {
    dropped_count.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  r->events[h % kRingSize] = Event{start_ns, dur_ns, code, arg};
  r->head.store(h + 1, std::memory_order_release);
  if (code == kBusy || code == kLoopStart || code == kBlock) {
    r->loop_seen.store(1, std::memory_order_relaxed);
  } else if (code == kQueue || code == kTask) {
    r->pool_seen.store(1, std::memory_order_relaxed);
  }
}

Ring* create_ring() {
  // Reserve a slot first (see kMaxRings); the drain gives it back when it frees the ring.
  if (live_count.fetch_add(1, std::memory_order_relaxed) >= kMaxRings) {
    live_count.fetch_sub(1, std::memory_order_relaxed);
    return nullptr;
  }
  Ring* r = new (std::nothrow) Ring;
  if (r == nullptr) {
    live_count.fetch_sub(1, std::memory_order_relaxed);
    return nullptr;
  }
  r->tid = current_tid();
  own_ring() = r;
  {
    LockGuard g(list_lock);
    r->next = rings;
    rings = r;
  }
  if (const ThreadRecord* rec = tls_state.record; rec != nullptr) {
    // The registry keeps CLOCK_MONOTONIC milliseconds.
    push(r, kThreadStart, rec->start_ms * 1000000, 0, 0);
  }
  watchdog::wake(watchdog::kTimeline);
  return r;
}

// Milliseconds with microseconds ("12.345"), written by hand: snprintf cost the drain ten
// times more than everything else it does.
void append_ms(std::string& out, int64_t ns) {
  uint64_t us = static_cast<uint64_t>(ns < 0 ? -(ns / 1000) : ns / 1000);
  if (ns < 0) out += '-';
  char buf[32];
  char* p = buf + sizeof buf;
  for (int i = 0; i < 3; ++i) {
    *--p = static_cast<char>('0' + us % 10);
    us /= 10;
  }
  *--p = '.';
  do {
    *--p = static_cast<char>('0' + us % 10);
    us /= 10;
  } while (us != 0);
  out.append(p, buf + sizeof buf - p);
}

void begin_line(std::string& line, const Ring& r, const char* name, const char* role) {
  line = "{\"type\":\"timeline\",\"tid\":";
  line += std::to_string(r.tid);
  line += ",\"name\":";
  json_append_string(line, name);
  line += ",\"role\":";
  json_append_string(line, role);
  line += ",\"events\":[";
}

void drain() {
  if (!events::g_timeline_on) return;
  LockGuard d(drain_lock);
  std::vector<Ring*> all;
  {
    LockGuard g(list_lock);
    for (Ring* r = rings; r != nullptr; r = r->next) all.push_back(r);
  }
  if (all.empty()) return;
  std::vector<registry::LiveThread> live = registry::live_threads();
  int64_t origin = process_info::start_mono_ns();
  std::string line;
  std::vector<Ring*> done;
  for (Ring* r : all) {
    // `exited` first: every event the thread pushed before it is then below `head`.
    bool exited = r->exited.load(std::memory_order_acquire);
    uint32_t head = r->head.load(std::memory_order_acquire);
    uint32_t tail = r->tail.load(std::memory_order_relaxed);
    if (head != tail) {
      // name and role are written by thread_exiting before its release store of `exited`:
      // read them only once that store was seen, or this read races with those writes.
      std::string name = exited ? r->name : "";
      const char* role = exited && r->role != nullptr ? r->role : "other";
      if (!exited) {
        for (const registry::LiveThread& t : live) {
          if (t.tid == r->tid) {
            name = t.name;
            role = role_name(t.role);
          }
        }
      }
      if (r->loop_seen.load(std::memory_order_relaxed)) {
        role = "loop";
      } else if (r->pool_seen.load(std::memory_order_relaxed)) {
        role = "pool";
      }
      begin_line(line, *r, name.c_str(), role);
      bool first = true;
      int named = name_count.load(std::memory_order_acquire);
      for (uint32_t i = tail; i != head; ++i) {
        const Event& e = r->events[i % kRingSize];
        if (!first) line += ',';
        first = false;
        line += "[\"";
        line += e.code < kCodeEnd ? kCodeNames[e.code] : "?";
        line += "\",";
        append_ms(line, e.start_ns - origin);
        line += ',';
        append_ms(line, e.dur_ns);
        if (e.arg != 0 && e.arg < named) {
          line += ',';
          json_append_string(line, names[e.arg]);
        }
        line += ']';
        if (line.size() > kLineFlush && i + 1 != head) {
          line += "]}";
          report_file::append(line);
          begin_line(line, *r, name.c_str(), role);
          first = true;
        }
      }
      line += "]}";
      report_file::append(line);
      r->tail.store(head, std::memory_order_release);
    }
    if (exited) done.push_back(r);
  }
  if (done.empty()) return;
  {
    LockGuard g(list_lock);
    for (Ring** p = &rings; *p != nullptr;) {
      bool gone = false;
      for (Ring* r : done) gone = gone || r == *p;
      if (gone) {
        *p = (*p)->next;
      } else {
        p = &(*p)->next;
      }
    }
  }
  for (Ring* r : done) delete r;
  live_count.fetch_sub(static_cast<int>(done.size()), std::memory_order_relaxed);
}

}  // namespace

void record(Code code, int64_t start_ns, int64_t end_ns, const char* arg) {
  if (!events::g_timeline_on || signal_handlers::in_handler() || !events::same_process()) return;
  Ring* r = own_ring();
  if (r == kExitedRing) return;  // after thread_exiting: see kExitedRing
  if (code == kLoopEnd) {
    // Only a loop the timeline showed starting (asyncio.run() runs its loop three times).
    if (r == nullptr || !r->loop_open) return;
    r->loop_open = false;
    push(r, code, start_ns, end_ns - start_ns, 0);
    return;
  }
  if (r == nullptr && (r = create_ring()) == nullptr) {
    // No ring (kMaxRings reached, or out of memory): the event is lost, and counted.
    dropped_count.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // The first busy span of a loop (the thread's first, or its first after a loop ended) says
  // the loop started.
  if (code == kBusy && !r->loop_open) {
    r->loop_open = true;
    push(r, kLoopStart, start_ns, 0, 0);
  }
  push(r, code, start_ns, end_ns - start_ns, intern(arg));
}

bool on() {
  return events::g_timeline_on != 0;
}

uint64_t dropped() {
  return dropped_count.load(std::memory_order_relaxed);
}

void init() {
  events::g_timeline_on = options().timeline ? 1 : 0;
  if (events::g_timeline_on) {
    events::g_timeline_min_ns.store(int64_t{options().timeline_min_ms} * 1000000);
  }
}

void thread_exiting() {
  Ring* r = own_ring();
  if (r == kExitedRing) return;
  // Also when the thread never recorded: a span from a later TLS destructor must not create
  // a ring that nothing would mark exited. (A vfork child runs on its parent's thread, which
  // goes on recording: null there, as before.)
  own_ring() = events::same_process() ? kExitedRing : nullptr;
  if (r == nullptr) return;
  if (events::same_process()) {
    push(r, kThreadExit, sys::monotonic_ns(), 0, 0);
    ThreadInfo info = registry::current_thread_info();
    strncpy(r->name, info.name.c_str(), sizeof r->name - 1);
    r->role = role_name(info.role);
  }
  tls_state.timeline_wait_end_ns = 0;
  r->exited.store(true, std::memory_order_release);
}

void drain_at_exit() {
  // From _exit()/_Exit() and exec, which a signal handler or a vfork child may call: the drain
  // allocates and takes locks (a deadlock if the interrupted code held one), so it is skipped
  // there; those events are lost.
  if (signal_handlers::in_handler() || !events::same_process()) return;
  drain();
}

int live_rings() {
  return live_count.load(std::memory_order_relaxed);
}

void reset_after_fork() {
  // The parent's rings belong to threads that do not exist here: dropped (leaked, as a lock
  // may have been held on them), and this thread starts a ring of its own when it next records.
  list_lock.reset_after_fork();
  drain_lock.reset_after_fork();
  names_lock.reset_after_fork();
  rings = nullptr;
  own_ring() = nullptr;
  tls_state.timeline_wait_end_ns = 0;
  total.store(0);
  dropped_count.store(0);
  live_count.store(0);
}

int64_t period_ns() {
  return 1000000000;
}

bool tick(int64_t) {
  drain();
  LockGuard g(list_lock);
  return rings != nullptr;
}

}  // namespace loopsan::timeline
