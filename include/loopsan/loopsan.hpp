// C++ helpers over the C API (loopsan.h): scopes that cannot be left unbalanced.
#pragma once

#include "loopsan/loopsan.h"

namespace loopsan {

inline bool active() {
  return loopsan_active() != 0;
}

// The current thread runs an event loop for the lifetime of this object.
class LoopScope {
 public:
  explicit LoopScope(const char* name) { loopsan_loop_enter(name); }
  ~LoopScope() { loopsan_loop_exit(); }
  LoopScope(const LoopScope&) = delete;
  LoopScope& operator=(const LoopScope&) = delete;
};

// Blocking calls on the current thread are accepted for the lifetime of this object.
class AllowBlocking {
 public:
  explicit AllowBlocking(const char* reason) { loopsan_allow_blocking_begin(reason); }
  ~AllowBlocking() { loopsan_allow_blocking_end(); }
  AllowBlocking(const AllowBlocking&) = delete;
  AllowBlocking& operator=(const AllowBlocking&) = delete;
};

// A worker runs a pool's task for the lifetime of this object (loopsan_task_started/finished;
// pool-starvation).
class TaskScope {
 public:
  TaskScope(const void* pool, const void* task) : pool_(pool), task_(task) {
    loopsan_task_started(pool, task);
  }
  ~TaskScope() { loopsan_task_finished(pool_, task_); }
  TaskScope(const TaskScope&) = delete;
  TaskScope& operator=(const TaskScope&) = delete;

 private:
  const void* pool_;
  const void* task_;
};

}  // namespace loopsan
