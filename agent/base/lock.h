// A small futex mutex for the agent's own tables.
//
// Not pthread_mutex_t: after fork() the child must be able to reset every agent
// lock to "unlocked" (another thread may have held it when the parent forked), and the agent
// must never go through the pthread functions the shim intercepts.
#pragma once

#include <atomic>

namespace loopsan {

class Lock {
 public:
  constexpr Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  void lock() {
    int expected = 0;
    if (!state_.compare_exchange_strong(expected, 1, std::memory_order_acquire)) slow_lock();
  }
  bool try_lock() {
    int expected = 0;
    return state_.compare_exchange_strong(expected, 1, std::memory_order_acquire);
  }
  void unlock() {
    if (state_.exchange(0, std::memory_order_release) == 2) wake_one();
  }
  // In a fork() child, where only the forking thread exists: unlocks, and returns whether the
  // lock was held at the instant of the fork. If it was, some thread was changing what it
  // guards: the caller must drop that state (leak it), not read it (base/fork_gate.h).
  bool reset_after_fork() { return state_.exchange(0, std::memory_order_relaxed) != 0; }

 private:
  void slow_lock();
  void wake_one();
  // 0: free, 1: locked, 2: locked with waiters.
  std::atomic<int> state_{0};
};

class LockGuard {
 public:
  explicit LockGuard(Lock& lock) : lock_(lock) { lock_.lock(); }
  ~LockGuard() { lock_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  Lock& lock_;
};

}  // namespace loopsan
