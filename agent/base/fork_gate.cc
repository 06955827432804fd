#include "agent/base/fork_gate.h"

#include <sys/syscall.h>
#include <unistd.h>

#include "agent/base/sys.h"

namespace loopsan::fork_gate {

std::atomic<int> g_inside{0};

namespace {

// Agent work is short (a stack capture: microseconds; symbolizing a new finding: a few
// milliseconds); a fork that finds no quiet moment by then goes ahead all the same.
constexpr int64_t kDrainNs = 50 * 1000000LL;

}  // namespace

void wait_for_quiet_moment(bool inside_agent) {
  int self = inside_agent ? 1 : 0;
  int64_t deadline = sys::monotonic_ns() + kDrainNs;
  while (g_inside.load(std::memory_order_relaxed) > self && sys::monotonic_ns() < deadline) {
    sys::call_with(SYS_sched_yield);
  }
}

void fork_ended_in_child(bool inside_agent) {
  g_inside.store(inside_agent ? 1 : 0, std::memory_order_relaxed);
}

}  // namespace loopsan::fork_gate
