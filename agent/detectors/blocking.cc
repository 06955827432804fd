#include "agent/detectors/blocking.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>

#include "agent/base/text.h"
#include "agent/base/json.h"
#include "agent/base/options.h"
#include "agent/report/reporter.h"
#include "agent/base/sys.h"
#include "agent/core/thread_registry.h"
#include "agent/base/thread_state.h"

namespace loopsan::blocking {

struct BlockingScope::Captured {
  StackId stack = 0;
  std::vector<python::PyFrame> python_stack;
};

namespace {

std::string format_ms(int64_t ns) {
  char buf[32];
  double ms = static_cast<double>(ns) / 1e6;
  snprintf(buf, sizeof buf, ms >= 10 ? "%.0f ms" : "%.1f ms", ms);
  return buf;
}

}  // namespace

BlockingScope::Captured* BlockingScope::capture() {
  auto* c = new Captured();
  c->stack = capture_stack();
  c->python_stack = python::capture_stack();
  return c;
}

void BlockingScope::begin(const CallSpec& spec) {
  int saved_errno = errno;
  ReentryGuard guard;
  if (loop_tracker::is_loop_thread() && tls_state.allow_blocking_depth == 0 &&
      spec.requested_ns != 0) {
    spec_ = &spec;
    active_ = true;
    // Reported whatever happens: take the stacks now, while the frames are certainly alive
    // (a Python daemon thread's state may be gone once a sleep ends at interpreter exit).
    if (spec.rule == Rule::kAlways) captured_ = capture();
    start_ns_ = sys::monotonic_ns();
  }
  errno = saved_errno;
}

void BlockingScope::end() {
  int saved_errno = errno;
  {
    ReentryGuard guard;
    int64_t waited = sys::monotonic_ns() - start_ns_;
    if (spec_->rule == Rule::kAlways || waited >= options().block_threshold_ms * 1000000) {
      if (captured_ == nullptr) captured_ = capture();
      Finding f;
      f.kind = Kind::kBlockingCall;
      f.thread = registry::current_thread_info();
      f.identity = spec_->call;
      std::string what = spec_->call;
      if (spec_->requested_ns > 0) append(what, "(", format_ms(spec_->requested_ns), ")");
      f.message = cat(what, " blocked the event loop of thread ", f.thread.tid, " (", f.thread.name,
                      ") for ", format_ms(waited));
      f.add_field("call", json_quote(spec_->call));
      f.add_field("duration_ms", cat((waited + 500000) / 1000000));
      f.stacks.emplace_back("stack", captured_->stack);
      f.python_stacks.emplace_back("python_stack", std::move(captured_->python_stack));
      reporter::submit(f);
    }
    delete captured_;
    captured_ = nullptr;
    active_ = false;
  }
  errno = saved_errno;
}

}  // namespace loopsan::blocking
