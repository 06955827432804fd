#include "agent/detectors/blocking.h"

#include <cinttypes>
#include <cstdio>

#include "agent/base/json.h"
#include "agent/base/options.h"
#include "agent/base/sys.h"
#include "agent/base/text.h"
#include "agent/core/loop_tracker.h"
#include "agent/core/thread_registry.h"
#include "agent/report/reporter.h"
#include "agent/runtimes/python_bridge.h"
#include "agent/stacks/stack.h"

namespace loopsan::blocking {

using events::BlockRule;

namespace {

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
  f.stacks.emplace_back("stack", captured->stack);
  f.python_stacks.emplace_back("python_stack", std::move(captured->python_stack));
  reporter::submit(f);
}

}  // namespace

bool begin(const events::BlockingCall& call, events::BlockingState& state) {
  if (!loop_tracker::is_loop_thread() || tls_state.allow_blocking_depth != 0 ||
      call.requested_ns == 0) {
    return false;
  }
  state.call = &call;
  // Reported whatever happens: take the stacks now, while the frames are certainly alive
  // (a Python daemon thread's state may be gone once a sleep ends at interpreter exit).
  if (call.rule == BlockRule::kAlways) state.captured = capture();
  state.start_ns = sys::monotonic_ns();
  return true;
}

void end(events::BlockingState& state) {
  int64_t waited = sys::monotonic_ns() - state.start_ns;
  auto* captured = static_cast<Captured*>(state.captured);
  const events::BlockingCall& call = *state.call;
  if (call.rule == BlockRule::kAlways || waited >= options().block_threshold_ms * 1000000) {
    if (captured == nullptr) captured = capture();
    report(call, waited, captured);
  }
  delete captured;
  state.captured = nullptr;
}

}  // namespace loopsan::blocking
