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
  // Held across fork() (core/module.h) so that the child's copy of what the lock protects is
  // whole. Bounded: a fork() from a signal handler that interrupted this lock's holder on the
  // same thread would otherwise wait forever; the child then resets the lock as before, and
  // the module's after_fork_child must not trust what it protects.
  bool fork_prepare();
  void fork_parent() {
    if (held_for_fork_) {
      held_for_fork_ = false;
      unlock();
    }
  }
  // The thread that held the lock, if not the forking one, does not exist in the child.
  // Returns whether the lock was held across fork(): only then is what it guards whole.
  bool fork_child() {
    bool whole = held_for_fork_;
    held_for_fork_ = false;
    state_.store(0, std::memory_order_relaxed);
    return whole;
  }

 private:
  void slow_lock();
  void wake_one();
  // 0: free, 1: locked, 2: locked with waiters.
  std::atomic<int> state_{0};
  // Only the forking thread touches it: glibc runs the fork handlers under its own lock.
  bool held_for_fork_ = false;
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
