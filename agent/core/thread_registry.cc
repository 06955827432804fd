#include "agent/core/thread_registry.h"

#include <sys/prctl.h>

#include <atomic>

#include <unordered_map>
#include "agent/base/lock.h"
#include "agent/core/loop_tracker.h"
#include "agent/core/pools.h"
#include "agent/base/sys.h"
#include "agent/base/thread_state.h"

namespace loopsan {

const char* role_name(ThreadRole role) {
  switch (role) {
    case ThreadRole::kMain:
      return "main";
    case ThreadRole::kLoop:
      return "loop";
    case ThreadRole::kPool:
      return "pool";
    case ThreadRole::kOther:
      return "other";
  }
  return "other";
}

namespace registry {
namespace {

int64_t now_ms() {
  return sys::monotonic_ns() / 1000000;
}

Lock lock;
// Keyed by pthread_t: that is what join/detach/setname hand us. Records are removed once the
// thread has exited and been joined or detached; what stays is what a leak report needs.
std::unordered_map<pthread_t, ThreadRecord*>* records = nullptr;
std::atomic<uint64_t> created{0};

std::unordered_map<pthread_t, ThreadRecord*>& table() {
  if (records == nullptr) records = new std::unordered_map<pthread_t, ThreadRecord*>();
  return *records;
}

void destroy(ThreadRecord* r) {
  delete r;
}

using Table = std::unordered_map<pthread_t, ThreadRecord*>;

// Under the lock.
Table::iterator insert_locked(ThreadRecord* r) {
  auto& t = table();
  r->in_table = true;
  auto [it, inserted] = t.try_emplace(r->handle, r);
  if (!inserted && it->second != r) {
    // pthread_t values are reused once a thread is gone; the old record is stale. One its
    // creator has not filed yet (a thread created detached that ended at once) is left to
    // that creator, which drops it (thread_created).
    if (it->second->filed) {
      destroy(it->second);
    } else {
      it->second->in_table = false;
    }
    it->second = r;
  }
  return it;
}

void insert(ThreadRecord* r) {
  LockGuard g(lock);
  insert_locked(r);
}

void remove_if_done(Table& t, Table::iterator it) {
  ThreadRecord* r = it->second;
  if (r->exited && (r->joined || r->detached) && r->filed) {
    if (tls_state.record == r) tls_state.record = nullptr;
    destroy(r);
    t.erase(it);
  }
}

std::string kernel_thread_name() {
  char name[17] = {};
  // Raw syscall: the shim intercepts prctl().
  sys::call_with(SYS_prctl, PR_GET_NAME, name, 0, 0, 0);
  return name;
}

}  // namespace

void register_main_thread() {
  auto* r = new ThreadRecord();
  r->handle = pthread_self();
  r->tid = current_tid();
  r->is_main = true;
  r->start_ms = now_ms();
  r->name = kernel_thread_name();
  r->state = &tls_state;
  tls_state.record = r;
  insert(r);
  loop_tracker::thread_named(tls_state, r->name.c_str());
}

ThreadRecord* thread_creating(pid_t creator_tid, StackId created_stack, bool detached) {
  auto* r = new ThreadRecord();
  r->creator_tid = creator_tid;
  r->created_stack = created_stack;
  r->detached = detached;
  r->filed = false;
  return r;
}

void thread_created(ThreadRecord* r, bool ok, pthread_t handle) {
  if (!ok) {
    destroy(r);  // no thread ever saw it
    return;
  }
  LockGuard g(lock);
  r->handle = handle;
  r->filed = true;
  auto& t = table();
  if (r->exited && (r->joined || r->detached)) {
    // It ran and ended already (created detached): only this removes its record.
    auto it = r->in_table ? t.find(handle) : t.end();
    if (it != t.end() && it->second == r) t.erase(it);
    destroy(r);
    return;
  }
  insert_locked(r);  // already there when the new thread ran first
}

void thread_started(ThreadRecord* r) {
  std::string name = kernel_thread_name();
  {
    // Its creator may be filing it right now (thread_created).
    LockGuard g(lock);
    r->handle = pthread_self();
    r->tid = current_tid();
    r->start_ms = now_ms();
    r->name = name;
    r->state = &tls_state;
    insert_locked(r);
  }
  tls_state.record = r;
  created.fetch_add(1, std::memory_order_relaxed);
  loop_tracker::thread_named(tls_state, name.c_str());
}

void thread_started(pid_t creator_tid) {
  ThreadRecord* r = thread_creating(creator_tid, 0, false);
  r->filed = true;  // nobody else will
  thread_started(r);
}

void thread_exiting() {
  LockGuard g(lock);
  auto& t = table();
  ThreadRecord* r = tls_state.record;
  if (r == nullptr) {
    auto it = t.find(pthread_self());
    if (it == t.end()) return;
    r = it->second;
  }
  r->exited = true;
  r->state = nullptr;
  r->exit_ms = now_ms();
  tls_state.record = nullptr;
  if (r->in_table) {
    auto it = t.find(r->handle);
    if (it != t.end() && it->second == r) remove_if_done(t, it);
  }
}

void thread_joined(pthread_t handle) {
  LockGuard g(lock);
  auto& t = table();
  auto it = t.find(handle);
  // A successful join means that thread has exited. A live record under the same handle is
  // a newer thread that reused the value: the join was not about it.
  if (it == t.end() || !it->second->exited) return;
  it->second->joined = true;
  remove_if_done(t, it);
}

void thread_detached(pthread_t handle) {
  LockGuard g(lock);
  auto& t = table();
  auto it = t.find(handle);
  if (it == t.end()) return;
  it->second->detached = true;
  remove_if_done(t, it);
}

void thread_named(pthread_t handle, const char* name) {
  LockGuard g(lock);
  auto& t = table();
  auto it = t.find(handle);
  if (it == t.end()) return;
  it->second->name = name;
  // The thread may be another one: its TLS block stays valid until it exits, which takes
  // this same lock.
  if (it->second->state != nullptr) loop_tracker::thread_named(*it->second->state, name);
}

ThreadInfo current_thread_info() {
  ThreadInfo info;
  info.tid = current_tid();
  info.name = kernel_thread_name();
  if (loop_tracker::is_loop_thread()) {
    info.role = ThreadRole::kLoop;
  } else if (info.tid == sys::getpid()) {
    info.role = ThreadRole::kMain;
  } else if (pools::current_is_worker()) {
    info.role = ThreadRole::kPool;
  }
  return info;
}

std::vector<UnjoinedThread> running_unjoined() {
  std::vector<UnjoinedThread> out;
  LockGuard g(lock);
  for (const auto& [handle, r] : table()) {
    // tid 0: created, not started yet.
    if (r->is_main || r->exited || r->joined || r->detached || r->tid == 0) continue;
    UnjoinedThread u;
    u.tid = r->tid;
    u.handle = handle;
    u.name = r->name;
    // Its TLS block stays valid until it exits, which takes this lock.
    if (r->state != nullptr && r->state->loop_flags != 0) {
      u.role = ThreadRole::kLoop;
    } else if (pools::is_worker(r->tid)) {
      u.role = ThreadRole::kPool;
    }
    u.creator_tid = r->creator_tid;
    u.created_stack = r->created_stack;
    u.start_ms = r->start_ms;
    out.push_back(std::move(u));
  }
  return out;
}

std::vector<LiveThread> live_threads() {
  std::vector<LiveThread> out;
  LockGuard g(lock);
  for (const auto& [handle, r] : table()) {
    if (r->exited || r->tid == 0) continue;
    LiveThread t;
    t.tid = r->tid;
    t.handle = handle;
    t.name = r->name;
    t.is_main = r->is_main;
    if (r->is_main) t.role = ThreadRole::kMain;
    if (!r->is_main && pools::is_worker(r->tid)) t.role = ThreadRole::kPool;
    // Its TLS block stays valid until it exits, which takes this lock.
    if (r->state != nullptr && r->state->loop_flags != 0) {
      t.role = ThreadRole::kLoop;
      t.in_loop_wait = __atomic_load_n(&r->state->in_loop_wait, __ATOMIC_RELAXED) != 0;
      if (__atomic_load_n(&r->state->in_call, __ATOMIC_RELAXED) != 0 &&
          __atomic_load_n(&r->state->allow_blocking_depth, __ATOMIC_RELAXED) == 0) {
        t.blocking_call = __atomic_load_n(&r->state->call_name, __ATOMIC_RELAXED);
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

uint64_t threads_created() {
  return created.load(std::memory_order_relaxed);
}

size_t live_records() {
  LockGuard g(lock);
  return table().size();
}

void reset_after_fork() {
  // Only the forking thread exists here; it is registered again as the child's main thread.
  // A table that was being changed at the fork (its lock held) is leaked rather than read.
  bool changing = lock.reset_after_fork();
  if (!changing && records != nullptr) {
    for (auto& [handle, r] : *records) destroy(r);
    records->clear();
  } else {
    records = nullptr;
  }
  created.store(0, std::memory_order_relaxed);
  tls_state.tid = 0;
  tls_state.record = nullptr;
  register_main_thread();
}

}  // namespace registry
}  // namespace loopsan
