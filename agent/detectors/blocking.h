// The blocking-call detector (DESIGN.md, "Blocking-call policy").
//
// A wrapper for a potentially blocking function opens a BlockingScope around the real call.
// Off a loop thread the scope is inert (one TLS test). On a loop thread it applies the policy:
// "always" calls (sleeps with a non-zero duration, ...) are reported whatever they last, with
// the stacks captured before the call; "threshold" calls only when they waited at least
// block_threshold_ms.
#pragma once

#include <cstdint>

#include "agent/core/loop_tracker.h"
#include "agent/runtimes/python_bridge.h"
#include "agent/stacks/stack.h"

namespace loopsan::blocking {

enum class Rule { kAlways, kThreshold };

struct CallSpec {
  const char* call;  // the function's name as the user knows it
  Rule rule;
  // For sleeps: the requested duration; a zero sleep is a yield and never reported.
  int64_t requested_ns = -1;
};

class BlockingScope {
 public:
  explicit BlockingScope(const CallSpec& spec) {
    if (loop_tracker::maybe_loop_thread() && tls_state.guard == 0) begin(spec);
  }
  ~BlockingScope() {
    if (active_) end();
  }
  BlockingScope(const BlockingScope&) = delete;
  BlockingScope& operator=(const BlockingScope&) = delete;

 private:
  struct Captured;
  static Captured* capture();
  void begin(const CallSpec& spec);
  void end();
  // Threshold calls on a loop thread only cost a clock read until they turn out to be slow.
  const CallSpec* spec_ = nullptr;
  int64_t start_ns_ = 0;
  bool active_ = false;
  Captured* captured_ = nullptr;  // stacks taken before an "always" call
};

}  // namespace loopsan::blocking
