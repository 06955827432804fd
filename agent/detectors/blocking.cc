#include "agent/detectors/blocking.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "agent/base/json.h"
#include "agent/base/options.h"
#include "agent/base/sys.h"
#include "agent/base/text.h"
#include "agent/core/loop_tracker.h"
#include "agent/core/thread_registry.h"
#include "agent/report/finding_table.h"
#include "agent/report/reporter.h"
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
};

Captured* capture() {
  auto* c = new Captured();
  c->stack = capture_stack();
  c->python_stack = python::capture_stack();
  return c;
}

// A repeat of a finding already reported (the same call from the same native stack) is
// counted from its return addresses alone: no depot entry, no Python dump, no symbolization.
// Only where the native stack tells call sites apart: under an interpreter, every Python line
// that blocks shares the eval loop's frames.
bool counted_as_repeat(const events::BlockingCall& call) {
  if (python::present()) return false;
  uintptr_t ips[kSiteFrames];
  int n = capture_frames(ips, kSiteFrames);
  if (n == 0) return false;
  uint64_t raw = reporter::native_raw_hash(Kind::kBlockingCall, call.call, kStackName, ips, n);
  return finding_table::count_if_known(raw);
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
  static constexpr const char* kIdleWaiters[] = {
      "asio::detail::scheduler::do_run_one",
      "asio::detail::scheduler::do_wait_one",
      "asio::detail::posix_event::wait",
      "asio::detail::conditionally_enabled_event::wait",
  };
  std::vector<Frame> frames = symbolize(captured.stack);
  if (frames.empty()) return false;
  for (const char* waiter : kIdleWaiters) {
    if (frames[0].function.find(waiter) != std::string::npos) return true;
  }
  return false;
}

std::string format_ms(int64_t ns) {
  char buf[32];
  double ms = static_cast<double>(ns) / 1e6;
  snprintf(buf, sizeof buf, ms >= 10 ? "%.0f ms" : "%.1f ms", ms);
  return buf;
}

void report(const events::BlockingCall& call, int64_t waited, Captured* captured) {
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
  f.python_stacks.emplace_back("python_stack", std::move(captured->python_stack));
  reporter::submit(f);
}

}  // namespace

bool begin(const events::BlockingCall& call, events::BlockingState& state) {
  if (call.rule == BlockRule::kNever || call.requested_ns == 0 ||
      tls_state.allow_blocking_depth != 0 || !loop_tracker::is_loop_thread()) {
    return false;
  }
  state.call = call;
  if (call.rule == BlockRule::kAlways) {
    if (counted_as_repeat(call)) return false;
    // Reported whatever happens: take the stacks now, while the frames are certainly alive
    // (a Python daemon thread's state may be gone once a sleep ends at interpreter exit).
    state.captured = capture();
  }
  state.start_ns = sys::monotonic_ns();
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
    if (runtime_internal(call) || counted_as_repeat(call)) return;
    captured = capture();
    if (loop_internal(*captured)) due = false;
  }
  if (due) report(call, waited, captured);
  delete captured;
}

}  // namespace loopsan::blocking
