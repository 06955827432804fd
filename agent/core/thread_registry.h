// The thread registry: every thread the process creates (through pthread_create, std::thread
// included) and the main thread, with name, role, creator and lifetime.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "agent/base/thread_state.h"

namespace loopsan {

// kPool is part of the report schema; no detector assigns it yet.
enum class ThreadRole { kMain, kLoop, kPool, kOther };
const char* role_name(ThreadRole role);

struct ThreadRecord {
  pthread_t handle{};
  pid_t tid = 0;
  std::string name;
  bool is_main = false;
  int64_t start_ms = 0;
  int64_t exit_ms = -1;
  bool exited = false;
  bool joined = false;
  bool detached = false;
  pid_t creator_tid = 0;
  ThreadState* state = nullptr;  // the thread's TLS block, valid until it exits
};

// A copy of what a report needs about a thread.
struct ThreadInfo {
  pid_t tid = 0;
  std::string name;
  ThreadRole role = ThreadRole::kOther;
};

namespace registry {

// The process's main thread (at start-up and again in a forked child).
void register_main_thread();
// A new thread, called on the new thread itself before the host's start routine runs.
void thread_started(pid_t creator_tid);
// The calling thread is about to end (return, pthread_exit or cancellation).
void thread_exiting();
void thread_joined(pthread_t handle);
void thread_detached(pthread_t handle);
// A pthread_setname_np/prctl(PR_SET_NAME) on `handle` succeeded.
void thread_named(pthread_t handle, const char* name);

// The calling thread as a report sees it: tid, current name (the kernel's, so names set by
// means we do not intercept are seen too) and role.
ThreadInfo current_thread_info();

uint64_t threads_created();
size_t live_records();

// In a forked child only the forking thread exists: forget every other record.
void reset_after_fork();

}  // namespace registry
}  // namespace loopsan
