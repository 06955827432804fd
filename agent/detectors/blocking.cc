#include "agent/detectors/blocking.h"

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <vector>

#include "agent/base/json.h"
#include "agent/base/options.h"
#include "agent/base/sys.h"
#include "agent/base/text.h"
#include "agent/core/loop_tracker.h"
#include "agent/core/thread_registry.h"
#include "agent/report/finding_table.h"
#include "agent/report/reporter.h"
#include "agent/runtimes/node_bridge.h"
#include "agent/runtimes/python_bridge.h"
#include "agent/stacks/stack.h"

namespace loopsan::blocking {

using events::BlockRule;

namespace {

constexpr char kStackName[] = "stack";
// Enough return addresses to tell call sites apart (the reporter's identity uses 16).
constexpr int kSiteFrames = 16;

struct Captured {
  StackId stack = 0;
  std::vector<python::PyFrame> python_stack;
  std::vector<node::JsFrame> js_stack;
};

Captured* capture() {
  auto* c = new Captured();
  c->stack = capture_stack();
  c->python_stack = python::capture_stack();
  c->js_stack = node::capture_stack();
  return c;
}

// Call sites already reported, so that the thousandth repeat of a hot bug is counted from a
// cheap key: no depot entry, no Python dump, no symbolization. The key is the call and its
// native return addresses, plus under CPython the code objects and instruction pointers of
// the Python frames (every Python line that blocks shares the eval loop's native frames), and
// under node the innermost JavaScript frames (node_bridge.h, frame_key).
// Lock-free open addressing; a full table only means repeats are captured again.
constexpr int kSites = 4096;
std::atomic<uint64_t> site_keys[kSites];
std::atomic<uint64_t> site_findings[kSites];  // the finding's raw hash; 0 while being published

uint64_t mix(uint64_t h, uint64_t v) {
  return (h ^ v) * 0x100000001b3ull;
}

// 0 when this call has no cheap key (a CPython whose frames loopsan cannot read).
uint64_t site_key(const events::BlockingCall& call) {
  uintptr_t ips[kSiteFrames];
  int n = capture_frames(ips, kSiteFrames);
  uint64_t h = mix(0xcbf29ce484222325ull, reinterpret_cast<uintptr_t>(call.call));
  for (int i = 0; i < n; ++i) h = mix(h, ips[i]);
  uint64_t python = 0;
  switch (python::frame_key(&python)) {
    case python::FrameKey::kKey:
      h = mix(h, python);
      break;
    case python::FrameKey::kUnknown:
      return 0;
    case python::FrameKey::kNoPython:
      break;
  }
  // Every interpreted JavaScript function runs in the same native frames too.
  uint64_t js = 0;
  if (node::frame_key(&js) == node::FrameKey::kKey) h = mix(h, js);
  return h == 0 ? 1 : h;
}

bool counted_as_repeat(uint64_t key) {
  if (key == 0) return false;
  for (int probe = 0; probe < kSites; ++probe) {
    int i = static_cast<int>((key + static_cast<uint64_t>(probe)) % kSites);
    uint64_t cur = site_keys[i].load(std::memory_order_acquire);
    if (cur == 0) return false;
    if (cur == key) {
      uint64_t raw = site_findings[i].load(std::memory_order_acquire);
      return raw != 0 && finding_table::count_if_known(raw);
    }
  }
  return false;
}

void remember_site(uint64_t key, uint64_t raw) {
  if (key == 0 || raw == 0) return;
  for (int probe = 0; probe < kSites; ++probe) {
    int i = static_cast<int>((key + static_cast<uint64_t>(probe)) % kSites);
    uint64_t expected = 0;
    if (site_keys[i].compare_exchange_strong(expected, key, std::memory_order_acq_rel) ||
        expected == key) {
      site_findings[i].store(raw, std::memory_order_release);
      return;
    }
  }
}

// Waits that are the runtime's, not the code's: CPython's GIL (a condition variable and mutex
// waited on from inside the interpreter; Python's own locks are semaphores).
bool runtime_internal(const events::BlockingCall& call) {
  bool gil_like =
      strncmp(call.call, "pthread_cond_", 13) == 0 || strncmp(call.call, "pthread_mutex_", 14) == 0;
  return gil_like && python::is_interpreter_code(call.caller);
}

// A loop's own idle wait made through a lock or condition variable rather than its polling set:
// asio's scheduler parks the threads of io_context::run() that are not running the reactor on
// a condition variable. Recognised by the function that made the call (inlined asio code keeps
// the scheduler's name in the symbol table).
bool loop_internal(const Captured& captured) {
  std::vector<Frame> frames = symbolize(captured.stack);
  return !frames.empty() && is_loop_idle_waiter(frames[0].function);
}

// Findings held until their poll loop waits again (loop_tracker::unconfirmed_poll_loop), per
// thread. Few: one callback's blocking calls.
struct Pending {
  events::BlockingCall call;
  int64_t waited;
  Captured* captured;
  uint64_t site;
};
struct PendingList {
  uintptr_t loop = 0;  // loop_tracker::poll_loop_identity() when they were held
  std::vector<Pending> items;
};
__thread PendingList* pending __attribute__((tls_model("initial-exec"))) = nullptr;

void drop_pending() {
  if (pending == nullptr) return;
  for (Pending& p : pending->items) delete p.captured;
  pending->items.clear();
  tls_state.pending_confirmations = 0;
}

std::string format_ms(int64_t ns) {
  char buf[32];
  double ms = static_cast<double>(ns) / 1e6;
  snprintf(buf, sizeof buf, ms >= 10 ? "%.0f ms" : "%.1f ms", ms);
  return buf;
}

void report(const events::BlockingCall& call, int64_t waited, Captured* captured, uint64_t site) {
  Finding f;
  f.kind = Kind::kBlockingCall;
  f.thread = registry::current_thread_info();
  f.identity = call.call;
  std::string what = call.call;
  if (call.requested_ns > 0) append(what, "(", format_ms(call.requested_ns), ")");
  f.message = cat(what, " blocked the event loop of thread ", f.thread.tid, " (", f.thread.name,
                  ") for ", format_ms(waited));
  f.add_field("call", json_quote(call.call));
  f.add_field("duration_ms", cat((waited + 500000) / 1000000));
  f.stacks.emplace_back(kStackName, captured->stack);
  // A Python finding is the Python line that blocked: the interpreter's own native path to
  // the call changes as CPython specializes the code, and must not split it in two.
  if (!captured->python_stack.empty()) f.identity_stacks = {"python_stack"};
  // So is a JavaScript finding: V8's frames under it change as it optimizes the function.
  if (!captured->js_stack.empty()) f.identity_stacks = {"js_stack"};
  f.python_stacks.emplace_back("python_stack", std::move(captured->python_stack));
  f.js_stacks.emplace_back("js_stack", std::move(captured->js_stack));
  uint64_t raw = reporter::raw_hash(f);
  reporter::submit(f);
  remember_site(site, raw);
}

}  // namespace

bool is_loop_idle_waiter(const std::string& function) {
  static constexpr const char* kIdleWaiters[] = {
      "asio::detail::scheduler::do_run_one",
      "asio::detail::scheduler::do_wait_one",
      "asio::detail::posix_event::wait",
      "asio::detail::conditionally_enabled_event::wait",
  };
  for (const char* waiter : kIdleWaiters) {
    if (function.find(waiter) != std::string::npos) return true;
  }
  return false;
}

bool reports(const char* call, const void* caller) {
  events::BlockingCall c{call, events::BlockRule::kThreshold, -1, caller};
  return !runtime_internal(c);
}

bool begin(const events::BlockingCall& call, events::BlockingState& state) {
  if (call.rule == BlockRule::kNever || call.requested_ns == 0 ||
      tls_state.allow_blocking_depth != 0 || !loop_tracker::is_loop_thread()) {
    return false;
  }
  state.call = call;
  // From before the capture: the loop is frozen for that too, and a sleep to an absolute
  // deadline ends no later for it.
  state.start_ns = sys::monotonic_ns();
  if (call.rule == BlockRule::kAlways) {
    // A vfork() child (on a loop thread's state, in its parent's memory) neither allocates
    // nor reports.
    if (!events::same_process()) return false;
    state.site = site_key(call);
    if (counted_as_repeat(state.site)) return false;
    // Reported whatever happens: take the stacks now, while the frames are certainly alive
    // (a Python daemon thread's state may be gone once a sleep ends at interpreter exit).
    state.captured = capture();
  }
  return true;
}

void end(events::BlockingState& state) {
  int64_t waited = sys::monotonic_ns() - state.start_ns;
  auto* captured = static_cast<Captured*>(state.captured);
  state.captured = nullptr;
  const events::BlockingCall& call = state.call;
  bool due =
      call.rule == BlockRule::kAlways || waited >= int64_t{options().block_threshold_ms} * 1000000;
  if (due && captured == nullptr) {
    if (runtime_internal(call) || !events::same_process()) return;
    state.site = site_key(call);
    if (counted_as_repeat(state.site)) return;
    captured = capture();
    if (loop_internal(*captured)) due = false;
  }
  if (due && loop_tracker::unconfirmed_poll_loop()) {
    uintptr_t loop = loop_tracker::poll_loop_identity();
    if (pending == nullptr) pending = new PendingList();
    if (pending->loop != loop) drop_pending();
    pending->loop = loop;
    pending->items.push_back(Pending{call, waited, captured, state.site});
    tls_state.pending_confirmations = 1;  // the next own wait calls loop_waited()
    return;
  }
  if (due) report(call, waited, captured, state.site);
  delete captured;
}

void threshold_exceeded(events::BlockingState& state) {
  if (!loop_tracker::is_loop_thread()) return;
  end(state);
}

void loop_waited(int) {
  if (pending == nullptr || pending->items.empty()) return;
  if (pending->loop == loop_tracker::poll_loop_identity()) {
    for (Pending& p : pending->items) {
      report(p.call, p.waited, p.captured, p.site);
      delete p.captured;
    }
    pending->items.clear();
    tls_state.pending_confirmations = 0;
  } else {
    drop_pending();  // that loop ended without waiting again: the calls came after it
  }
}

void thread_exiting() {
  drop_pending();
  delete pending;
  pending = nullptr;
}

}  // namespace loopsan::blocking
