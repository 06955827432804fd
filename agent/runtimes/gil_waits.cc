#include "agent/runtimes/gil_waits.h"

#include <atomic>

#include "agent/base/thread_state.h"
#include "agent/core/process_info.h"
#include "agent/events.h"
#include "agent/runtimes/python_bridge.h"

namespace loopsan::gil_waits {
namespace {

// More threads than a process runs Python threads in practice; a thread that finds the table
// full is not measured (its pool is then judged on the others).
constexpr int kSlots = 1024;

struct Slot {
  std::atomic<pid_t> tid;
  std::atomic<int64_t> wait_ns;
};
Slot slots[kSlots];

// The calling thread's slot, as index + 1; 0 none yet, -1 the table was full.
__thread int tls_slot __attribute__((tls_model("initial-exec")));

Slot* own_slot() {
  int s = tls_slot;
  if (__builtin_expect(s > 0, 1)) return &slots[s - 1];
  if (s < 0) return nullptr;
  pid_t self = current_tid();
  for (int i = 0; i < kSlots; ++i) {
    pid_t free = 0;
    if (slots[i].tid.load(std::memory_order_relaxed) == 0 &&
        slots[i].tid.compare_exchange_strong(free, self, std::memory_order_acq_rel)) {
      slots[i].wait_ns.store(0, std::memory_order_relaxed);
      tls_slot = i + 1;
      return &slots[i];
    }
  }
  tls_slot = -1;
  return nullptr;
}

}  // namespace

void init() {
  uintptr_t cond = 0, switch_cond = 0;
  bool ok = python::present() && python::gil_conds(&cond, &switch_cond) && switch_cond > cond;
  if (ok) {
    events::g_gil_conds.span = switch_cond - cond;
    __atomic_store_n(&events::g_gil_conds.first, cond, __ATOMIC_RELEASE);
  }
  // Only in a CPython: other hosts' start lines stay as they were.
  if (python::present()) process_info::set_hook("cpython.gil_waits", ok);
}

bool measured() {
  return __atomic_load_n(&events::g_gil_conds.first, __ATOMIC_RELAXED) != 0;
}

void add(int64_t ns) {
  Slot* slot = own_slot();
  if (slot == nullptr || ns <= 0) return;
  // Written by this thread only: a plain add, published for the watchdog's relaxed load.
  slot->wait_ns.store(slot->wait_ns.load(std::memory_order_relaxed) + ns,
                      std::memory_order_relaxed);
}

bool waited_ns(pid_t tid, int64_t* ns) {
  if (tid <= 0) return false;
  for (const Slot& slot : slots) {
    if (slot.tid.load(std::memory_order_acquire) == tid) {
      *ns = slot.wait_ns.load(std::memory_order_relaxed);
      return true;
    }
  }
  return false;
}

void thread_exiting() {
  int s = tls_slot;
  if (s > 0) slots[s - 1].tid.store(0, std::memory_order_release);
  tls_slot = 0;
}

void reset_after_fork() {
  // Only the forking thread exists in the child: it keeps its slot, under its new tid.
  int own = tls_slot;
  for (int i = 0; i < kSlots; ++i) {
    if (i + 1 != own) slots[i].tid.store(0, std::memory_order_relaxed);
  }
  if (own > 0) {
    slots[own - 1].tid.store(current_tid(), std::memory_order_relaxed);
    slots[own - 1].wait_ns.store(0, std::memory_order_relaxed);
  }
}

}  // namespace loopsan::gil_waits
