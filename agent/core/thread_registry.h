// The thread registry: every thread the process creates (through pthread_create, std::thread
// included) and the main thread, with name, role, creator and lifetime.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "agent/base/thread_state.h"
#include "agent/stacks/depot.h"

namespace loopsan {

// kPool: a thread that has run a task of a thread pool (core/pools.h).
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
  StackId created_stack = 0;     // where pthread_create() was called, on the creating thread
  ThreadState* state = nullptr;  // the thread's TLS block, valid until it exits
  // The registry's own bookkeeping: in the table; and its creator is done with it (a record
  // is not removed before, so that thread_created never files a freed one).
  bool in_table = false;
  bool filed = true;
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
// A thread created through the pthread_create() wrapper, in three steps, so that its record is
// in the table from the moment pthread_create() returns, whether the new thread has run yet or
// not (its creator may detach or join it at once: CPython detaches every thread it starts right
// after creating it), and from the moment the new thread runs (it may name itself at once),
// whichever comes first. The record is removed only once both sides are done with it.
//   thread_creating: on the creating thread, before the real call. `created_stack` is where
//     pthread_create() was called, `detached` whether the attributes create it detached.
//   thread_created: on the creating thread, after it: `ok` false when it failed (the record is
//     dropped), else `handle` is the new thread.
//   thread_started: on the new thread, before the host's start routine runs.
ThreadRecord* thread_creating(pid_t creator_tid, StackId created_stack, bool detached);
void thread_created(ThreadRecord* record, bool ok, pthread_t handle);
void thread_started(ThreadRecord* record);
// A thread that nobody announced (the agent started while its creator was in
// pthread_create(), or a test): creates and inserts its own record, on the new thread.
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

// A thread that is still running and was never joined or detached (the main thread excepted):
// what a thread-leak report needs, copied.
struct UnjoinedThread {
  pid_t tid = 0;
  pthread_t handle{};
  std::string name;  // as last set through pthread_setname_np/prctl, or at its start
  ThreadRole role = ThreadRole::kOther;
  pid_t creator_tid = 0;
  StackId created_stack = 0;
  int64_t start_ms = 0;
};
std::vector<UnjoinedThread> running_unjoined();

// Every thread that has started and not ended yet, the main thread included: what the
// watchdog's wait checks (detectors/waits.h) look at each tick, copied.
struct LiveThread {
  pid_t tid = 0;
  pthread_t handle{};
  std::string name;  // as last set through pthread_setname_np/prctl, or at its start
  ThreadRole role = ThreadRole::kOther;
  bool is_main = false;
  bool in_loop_wait = false;  // a loop thread inside its own loop wait (idle, not stuck)
  // A loop thread inside a wrapped call that may block (events::BlockingScope), not allowed by
  // an allow_blocking scope: the call's name (static), else null.
  const char* blocking_call = nullptr;
};
std::vector<LiveThread> live_threads();

uint64_t threads_created();
size_t live_records();

// In a forked child only the forking thread exists: forget every other record.
void reset_after_fork();

}  // namespace registry
}  // namespace loopsan
