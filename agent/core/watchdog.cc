#include "agent/core/watchdog.h"

#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "agent/base/fork_gate.h"
#include "agent/base/lock.h"
#include "agent/base/log.h"
#include "agent/base/sys.h"
#include "agent/base/thread_state.h"
#include "agent/core/helper_thread.h"
#include "agent/detectors/gil_contention.h"
#include "agent/detectors/loop_stall.h"
#include "agent/detectors/pool_starvation.h"
#include "agent/detectors/thread_leak.h"
#include "agent/detectors/waits.h"
#include "agent/interception/interception.h"
#include "agent/report/timeline.h"

namespace loopsan::watchdog {
namespace {

// The table of periodic checks, one row per CheckId, in that order.
const Check kChecks[kCheckCount] = {
    {.name = "loop-stall", .period_ns = loop_stall::period_ns, .tick = loop_stall::tick},
    {.name = "waits", .period_ns = waits::period_ns, .tick = waits::tick},
    {.name = "thread-leak", .period_ns = thread_leak::period_ns, .tick = thread_leak::tick},
    {.name = "pool-starvation",
     .period_ns = pool_starvation::period_ns,
     .tick = pool_starvation::tick},
    {.name = "gil-contention",
     .period_ns = gil_contention::period_ns,
     .tick = gil_contention::tick},
    {.name = "timeline", .period_ns = timeline::period_ns, .tick = timeline::tick},
};

// Bumped by every wake(): the futex word the thread sleeps on.
std::atomic<uint32_t> wake_seq{0};
// Checks woken since the thread last looked (bit per CheckId).
std::atomic<uint32_t> requests{0};
// 0: not started, 1: running, -1: could not be started (never tried again).
std::atomic<int> state{0};
std::atomic<pid_t> watchdog_tid{0};
std::atomic<bool> stopping{false};
std::atomic<bool> barrier_registered{false};
std::atomic<uint64_t> wakeup_count{0};
Lock start_lock;

void futex_wait(std::atomic<uint32_t>* word, uint32_t seen, int64_t timeout_ns) {
  timespec ts{};
  timespec* tsp = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = timeout_ns / 1000000000;
    ts.tv_nsec = timeout_ns % 1000000000;
    tsp = &ts;
  }
  sys::call_with(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, tsp);
}

void* run(void*) {
  watchdog_tid.store(current_tid(), std::memory_order_release);
  // The host's side of heavy_barrier() is a plain store: register once per process.
  barrier_registered.store(
      sys::call_with(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0,
      std::memory_order_release);

  uint32_t active = 0;
  int64_t due[kCheckCount] = {};
  for (;;) {
    uint32_t seen = wake_seq.load(std::memory_order_acquire);
    uint32_t woken = requests.exchange(0, std::memory_order_acq_rel);
    int64_t now = sys::monotonic_ns();
    for (int i = 0; i < kCheckCount; ++i) {
      if (woken & (1u << i)) {
        active |= 1u << i;
        due[i] = now;
      }
    }
    if (stopping.load(std::memory_order_acquire)) active = 0;
    for (int i = 0; i < kCheckCount; ++i) {
      if (!(active & (1u << i)) || now < due[i]) continue;
      // Counted as agent work, so that a fork() waits for a quiet moment (base/fork_gate.h).
      fork_gate::enter();
      bool more = kChecks[i].tick(now);
      fork_gate::leave();
      if (more) {
        due[i] = now + kChecks[i].period_ns();
      } else {
        active &= ~(1u << i);
      }
    }
    if (requests.load(std::memory_order_acquire) != 0) continue;
    int64_t sleep_ns = -1;  // no timeout: nothing to watch until a wake()
    if (active != 0) {
      int64_t next = INT64_MAX;
      for (int i = 0; i < kCheckCount; ++i) {
        if ((active & (1u << i)) && due[i] < next) next = due[i];
      }
      sleep_ns = next - sys::monotonic_ns();
      if (sleep_ns <= 0) continue;
    }
    futex_wait(&wake_seq, seen, sleep_ns);
    wakeup_count.fetch_add(1, std::memory_order_relaxed);
  }
  return nullptr;
}

void start() {
  LockGuard g(start_lock);
  if (state.load(std::memory_order_acquire) != 0) return;
  bool ok = helper_thread::start(run, "loopsan-watch");
  state.store(ok ? 1 : -1, std::memory_order_release);
  if (!ok) log_line("warning: cannot start the watchdog thread: no loop-stall detection");
}

}  // namespace

void wake(CheckId id) {
  if (stopping.load(std::memory_order_relaxed)) return;
  int s = state.load(std::memory_order_acquire);
  if (s < 0) return;
  if (s == 0) start();
  requests.fetch_or(1u << id, std::memory_order_acq_rel);
  wake_seq.fetch_add(1, std::memory_order_acq_rel);
  sys::call_with(SYS_futex, &wake_seq, FUTEX_WAKE_PRIVATE, 1);
}

bool on_watchdog_thread() {
  pid_t t = watchdog_tid.load(std::memory_order_acquire);
  return t != 0 && t == current_tid();
}

pid_t thread_id() {
  return watchdog_tid.load(std::memory_order_acquire);
}

bool heavy_barrier() {
  if (barrier_registered.load(std::memory_order_acquire) &&
      sys::call_with(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) == 0) {
    return true;
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return false;
}

uint64_t wakeups() {
  return wakeup_count.load(std::memory_order_relaxed);
}

void reset_after_fork() {
  // The thread does not exist in the child; the next wake() starts the child's own.
  start_lock.reset_after_fork();
  state.store(0, std::memory_order_relaxed);
  watchdog_tid.store(0, std::memory_order_relaxed);
  requests.store(0, std::memory_order_relaxed);
  wake_seq.store(0, std::memory_order_relaxed);
  barrier_registered.store(false, std::memory_order_relaxed);
  wakeup_count.store(0, std::memory_order_relaxed);
}

void stop() {
  stopping.store(true, std::memory_order_release);
  wake_seq.fetch_add(1, std::memory_order_acq_rel);
  sys::call_with(SYS_futex, &wake_seq, FUTEX_WAKE_PRIVATE, 1);
}

}  // namespace loopsan::watchdog
