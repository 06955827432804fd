#include "agent/base/sys.h"
#include "agent/base/lock.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace loopsan {

void Lock::slow_lock() {
  // Drepper, "Futexes Are Tricky", mutex #3.
  int c = state_.exchange(2, std::memory_order_acquire);
  while (c != 0) {
    sys::call_with(SYS_futex, reinterpret_cast<int*>(&state_), FUTEX_WAIT_PRIVATE, 2, nullptr,
                   nullptr, 0);
    c = state_.exchange(2, std::memory_order_acquire);
  }
}

void Lock::wake_one() {
  sys::call_with(SYS_futex, reinterpret_cast<int*>(&state_), FUTEX_WAKE_PRIVATE, 1, nullptr,
                 nullptr, 0);
}

}  // namespace loopsan
