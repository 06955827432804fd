#include "agent/detectors/waits.h"

#include <linux/futex.h>
#include <sys/syscall.h>

#include <algorithm>
#include <atomic>
#include <unordered_map>

#include "agent/base/json.h"
#include "agent/base/options.h"
#include "agent/base/sys.h"
#include "agent/base/text.h"
#include "agent/core/watchdog.h"
#include "agent/detectors/deadlock.h"
#include "agent/detectors/hung_wait.h"
#include "agent/stacks/depot.h"

namespace loopsan::waits {
namespace {

struct Track {
  int64_t last_cpu_ns = -1;
  int64_t last_tick_ns = 0;
  Waiter waiter;
};

// Only the watchdog thread reads or writes it. Leaked in a fork() child (the watchdog may have
// been using it at the fork), where a fresh one starts.
std::unordered_map<pid_t, Track>* tracks = nullptr;
// Loop threads loop_stall.h saw parked in a reported blocking call, and when. Watchdog thread
// only; leaked in a fork() child.
std::unordered_map<pid_t, int64_t>* blocked_loops = nullptr;

// Set from the second thread's start on: the check then runs at every period for good.
std::atomic<bool> woken{false};

}  // namespace

const Waiter* find(const View& view, pid_t tid) {
  for (const Waiter& w : view) {
    if (w.thread.tid == tid) return &w;
  }
  return nullptr;
}

std::string call_name(const Waiter& w) {
  if (!w.parked) return w.computing ? "computing" : "running";
  switch (w.target.kind) {
    case parked::WaitTarget::Kind::kMutex:
      return "pthread_mutex_lock";
    case parked::WaitTarget::Kind::kJoin:
      return "pthread_join";
    case parked::WaitTarget::Kind::kFuture:
      return "std::future::wait";
    default:
      return parked::waiting_in(w.call);
  }
}

const std::vector<python::PyFrame>* python_stack_of(const Waiter& w, const PythonStacks& python) {
  for (const auto& [id, frames] : python) {
    if (id == static_cast<unsigned long>(w.thread.handle) && !frames.empty()) return &frames;
  }
  return nullptr;
}

FindingThread describe(const Waiter& w, int64_t now_ns, const PythonStacks& python,
                       StackId* stack_out) {
  FindingThread t;
  t.thread.tid = w.thread.tid;
  std::string name = parked::task_name(w.thread.tid);
  t.thread.name = name.empty() ? w.thread.name : name;
  t.thread.role = w.thread.role;
  t.add_field("state", json_quote(w.parked ? "parked" : w.computing ? "computing" : "running"));
  t.add_field("waiting_in", json_quote(call_name(w)));
  if (w.parked) {
    t.add_field("waiting_ms", cat((now_ns - w.since_ns) / 1000000));
    if (w.target.kind != parked::WaitTarget::Kind::kNone) {
      t.add_field("waiting_for", parked::waiting_for_json(w.target));
    }
    parked::Stack s;
    parked::sample(w.thread.tid, &s);
    if (s.size > 0) {
      StackId id = depot::intern(s.ips, s.size);
      t.stacks.emplace_back("stack", id);
      if (stack_out != nullptr) *stack_out = id;
    }
  }
  if (const auto* frames = python_stack_of(w, python)) {
    t.python_stacks.emplace_back("python_stack", *frames);
  }
  return t;
}

bool timed(const Waiter& w) {
  if (!w.parked || w.call.nr != SYS_futex) return false;
  int op = static_cast<int>(w.call.args[1]) & FUTEX_CMD_MASK;
  bool waits = op == FUTEX_WAIT || op == FUTEX_WAIT_BITSET || op == FUTEX_LOCK_PI ||
               op == FUTEX_LOCK_PI2 || op == FUTEX_WAIT_REQUEUE_PI;
  return waits && w.call.args[3] != 0;
}

int64_t period_ns() {
  int64_t p = int64_t{options().wait_check_ms} * 1000000;
  int64_t hang = int64_t{options().hang_threshold_ms} * 1000000 / 4;
  if (hang > 0 && hang < p) p = hang;
  return p < 10000000 ? 10000000 : p;
}

bool tick(int64_t now) {
  if (tracks == nullptr) tracks = new std::unordered_map<pid_t, Track>();
  std::vector<registry::LiveThread> live = registry::live_threads();
  std::sort(live.begin(), live.end(), [](const auto& a, const auto& b) { return a.tid < b.tid; });
  View view;
  view.reserve(live.size());
  std::unordered_map<pid_t, Track> next;
  for (registry::LiveThread& l : live) {
    Track k;
    auto it = tracks->find(l.tid);
    if (it != tracks->end()) k = std::move(it->second);
    int64_t cpu = sys::thread_cpu_ns(l.tid);
    if (cpu < 0) continue;  // it ended since the registry was read
    Waiter& w = k.waiter;
    bool still = k.last_cpu_ns >= 0 && cpu == k.last_cpu_ns;
    w.computing = k.last_cpu_ns >= 0 && (cpu - k.last_cpu_ns) * 2 >= now - k.last_tick_ns;
    if (!still) {
      w.parked = false;
      w.since_ns = 0;
    } else if (!w.parked) {
      // Not run since the last tick: what is it in?
      w.call = parked::read_syscall(l.tid);
      if (w.call.state == parked::Syscall::State::kParked) {
        w.parked = true;
        w.since_ns = k.last_tick_ns;
      }
    }
    if (w.parked) w.target = parked::wait_target(w.call);
    w.thread = std::move(l);
    k.last_cpu_ns = cpu;
    k.last_tick_ns = now;
    view.push_back(w);
    next.emplace(w.thread.tid, std::move(k));
  }
  tracks->swap(next);
  if (blocked_loops != nullptr) {
    for (auto it = blocked_loops->begin(); it != blocked_loops->end();) {
      it = tracks->count(it->first) != 0 ? std::next(it) : blocked_loops->erase(it);
    }
  }
  deadlock::check(view, now);
  hung_wait::check(view, now);
  return true;
}

void thread_started() {
  if (woken.load(std::memory_order_relaxed) || options().wait_check_ms == 0) return;
  if (woken.exchange(true, std::memory_order_acq_rel)) return;
  watchdog::wake(watchdog::kWaits);
}

void loop_thread_blocked(pid_t tid, int64_t now_ns) {
  if (blocked_loops == nullptr) blocked_loops = new std::unordered_map<pid_t, int64_t>();
  (*blocked_loops)[tid] = now_ns;
  thread_started();
}

int64_t loop_thread_blocked_at(pid_t tid) {
  if (blocked_loops == nullptr) return 0;
  auto it = blocked_loops->find(tid);
  return it == blocked_loops->end() ? 0 : it->second;
}

void reset_after_fork() {
  tracks = nullptr;
  blocked_loops = nullptr;
  woken.store(false, std::memory_order_relaxed);
}

}  // namespace loopsan::waits
