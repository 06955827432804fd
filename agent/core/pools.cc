#include "agent/core/pools.h"

#include <pthread.h>

#include <deque>
#include <memory>

#include "agent/base/lock.h"
#include "agent/base/options.h"
#include "agent/base/thread_state.h"
#include "agent/core/watchdog.h"
#include "agent/events.h"
#include "agent/report/timeline.h"

namespace loopsan::pools {
namespace {

struct Waiting {
  uintptr_t task = 0;
  int64_t queued_ns = 0;
  std::shared_ptr<Submission> submission;  // only for a task that came to a saturated pool
};

struct Worker {
  pid_t tid = 0;
  unsigned long python_ident = 0;
  bool busy = false;
  int64_t busy_since_ns = 0;
  std::string task;
};

struct Pool {
  uintptr_t key = 0;
  PoolKind kind = PoolKind::kCApi;
  std::string name;
  int max_workers = 0;
  std::vector<Worker> workers;
  int busy = 0;
  std::deque<Waiting> queue;  // oldest first
  int starved = 0;
  int64_t starved_max_ns = 0;
  Submission starved_worst;
  // The newest submission whose stacks were kept: stands in for a waiting task that has none.
  std::shared_ptr<Submission> last_with_stacks;
  int kept = 0;  // waiting tasks whose submission kept its stacks (wants_submission, in O(1))
};

bool kept_stacks(const Waiting& w) {
  return w.submission != nullptr &&
         (w.submission->stack != 0 || !w.submission->python_stack.empty());
}

Lock lock;
// A handful of pools in a process: a vector scanned under the lock. Leaked in a fork() child
// whose parent forked while the lock was held.
std::vector<Pool>* table = new std::vector<Pool>();
bool watching = false;  // under `lock`: the watchdog's check is on

// The calling thread's pool and its slot there: the fast path of task_started/finished.
__thread uintptr_t t_pool __attribute__((tls_model("initial-exec"))) = 0;
__thread int t_worker __attribute__((tls_model("initial-exec"))) = 0;  // 1 once a worker

Pool* find(uintptr_t key) {
  for (Pool& p : *table) {
    if (p.key == key) return &p;
  }
  return nullptr;
}

Worker* worker_of(Pool& p, pid_t tid) {
  for (Worker& w : p.workers) {
    if (w.tid == tid) return &w;
  }
  return nullptr;
}

int capacity(const Pool& p) {
  return p.max_workers > 0 ? p.max_workers : static_cast<int>(p.workers.size());
}

PoolView view_of(const Pool& p) {
  PoolView v;
  v.key = p.key;
  v.kind = p.kind;
  v.name = p.name;
  v.max_workers = p.max_workers;
  for (const Worker& w : p.workers) {
    v.workers.push_back({.tid = w.tid,
                         .python_ident = w.python_ident,
                         .busy = w.busy,
                         .busy_since_ns = w.busy_since_ns,
                         .task = w.task});
  }
  return v;
}

void finish_locked(Pool& p, pid_t tid) {
  Worker* w = worker_of(p, tid);
  if (w == nullptr || !w->busy) return;
  w->busy = false;
  w->task.clear();
  --p.busy;
}

// Thread `tid` is no worker of `p` any more.
void leave_locked(Pool& p, pid_t tid) {
  finish_locked(p, tid);
  for (auto it = p.workers.begin(); it != p.workers.end(); ++it) {
    if (it->tid == tid) {
      p.workers.erase(it);
      return;
    }
  }
}

// A timeline span seen under `lock`, recorded once it is released: record() may allocate the
// thread's ring and take the timeline's locks, not to be done while holding the pools' lock.
// Declared before the LockGuard, so that its destructor runs after the guard's.
struct DeferredSpan {
  timeline::Code code = timeline::kCodeEnd;  // kCodeEnd: nothing to record
  int64_t start_ns = 0, end_ns = 0;
  std::string pool;
  void set(timeline::Code c, int64_t start, int64_t end, const std::string& p) {
    code = c;
    start_ns = start;
    end_ns = end;
    pool = p;
  }
  ~DeferredSpan() {
    if (code != timeline::kCodeEnd) timeline::record(code, start_ns, end_ns, pool.c_str());
  }
};

}  // namespace

std::vector<PoolView> snapshot() {
  std::vector<PoolView> out;
  LockGuard g(lock);
  for (const Pool& p : *table) {
    if (!p.workers.empty()) out.push_back(view_of(p));
  }
  return out;
}

bool is_worker(pid_t tid) {
  LockGuard g(lock);
  for (Pool& p : *table) {
    if (worker_of(p, tid) != nullptr) return true;
  }
  return false;
}

bool current_is_worker() {
  return t_worker != 0;
}

void pool_created(uintptr_t key, PoolKind kind, const std::string& name, int max_workers) {
  LockGuard g(lock);
  Pool* p = find(key);
  if (p == nullptr) {
    table->emplace_back();
    p = &table->back();
  }
  *p = Pool();
  p->key = key;
  p->kind = kind;
  p->name = name;
  p->max_workers = max_workers;
}

void pool_destroyed(uintptr_t key) {
  LockGuard g(lock);
  for (auto it = table->begin(); it != table->end(); ++it) {
    if (it->key == key) {
      table->erase(it);
      return;
    }
  }
}

bool task_queued(uintptr_t key, uintptr_t task, int64_t now_ns) {
  bool wake = false, waits = false;
  {
    LockGuard g(lock);
    Pool* p = find(key);
    if (p == nullptr) return false;
    waits = p->busy + static_cast<int>(p->queue.size()) >= capacity(*p);
    p->queue.push_back({.task = task, .queued_ns = now_ns, .submission = nullptr});
    if (waits && !watching) wake = watching = true;
  }
  if (wake) watchdog::wake(watchdog::kPoolStarvation);
  return waits;
}

bool wants_submission(uintptr_t key) {
  LockGuard g(lock);
  Pool* p = find(key);
  if (p == nullptr) return false;
  return p->kept < 8;
}

void task_submission(uintptr_t key, uintptr_t task, Submission submission) {
  LockGuard g(lock);
  Pool* p = find(key);
  if (p == nullptr) return;
  // The newest entry of that task (a FIFO pool: the one just queued).
  for (auto it = p->queue.rbegin(); it != p->queue.rend(); ++it) {
    if (it->task == task) {
      if (kept_stacks(*it)) --p->kept;
      it->submission = std::make_shared<Submission>(std::move(submission));
      if (kept_stacks(*it)) {
        ++p->kept;
        p->last_with_stacks = it->submission;
      }
      return;
    }
  }
}

void task_dropped(uintptr_t key, uintptr_t task) {
  LockGuard g(lock);
  Pool* p = find(key);
  if (p == nullptr) return;
  for (auto it = p->queue.begin(); it != p->queue.end(); ++it) {
    if (it->task == task) {
      if (kept_stacks(*it)) --p->kept;
      p->queue.erase(it);
      return;
    }
  }
}

void task_started(uintptr_t key, uintptr_t task, const std::string& name, int64_t now_ns) {
  int64_t threshold = int64_t{options().starvation_threshold_ms} * 1000000;
  pid_t tid = current_tid();
  DeferredSpan span;  // before the guard: recorded after the unlock
  LockGuard g(lock);
  Pool* p = find(key);
  if (p == nullptr) return;
  if (t_pool != key) {
    // A thread works for one pool at a time (a C API thread may move: leave the old one).
    if (t_pool != 0) {
      if (Pool* old = find(t_pool)) leave_locked(*old, tid);
    }
    t_pool = key;
    t_worker = 1;
  }
  Worker* w = worker_of(*p, tid);
  if (w == nullptr) {
    p->workers.push_back({.tid = tid,
                          .python_ident = p->kind == PoolKind::kPythonExecutor
                                              ? static_cast<unsigned long>(pthread_self())
                                              : 0,
                          .busy = false,
                          .busy_since_ns = 0,
                          .task = {}});
    w = &p->workers.back();
  }
  if (!w->busy) ++p->busy;
  w->busy = true;
  w->busy_since_ns = now_ns;
  w->task = name;
  auto it = p->queue.begin();
  if (task != 0) {
    while (it != p->queue.end() && it->task != task) ++it;
  }
  if (it == p->queue.end()) return;  // queued before the pool was known
  int64_t waited = now_ns - it->queued_ns;
  if (waited >= events::g_timeline_min_ns.load(std::memory_order_relaxed)) {
    span.set(timeline::kQueue, it->queued_ns, now_ns, p->name);
  }
  bool batch = it->submission != nullptr && it->submission->batch;
  if (kept_stacks(*it)) --p->kept;
  if (threshold > 0 && waited >= threshold && !batch) {
    ++p->starved;
    if (waited > p->starved_max_ns) {
      p->starved_max_ns = waited;
      if (it->submission != nullptr) {
        p->starved_worst = std::move(*it->submission);
      } else {
        p->starved_worst = Submission();
      }
      if (p->starved_worst.task.empty()) p->starved_worst.task = name;
    }
  }
  p->queue.erase(it);
}

void task_finished(uintptr_t key, int64_t) {
  if (t_pool != key) return;
  DeferredSpan span;  // before the guard: recorded after the unlock
  LockGuard g(lock);
  Pool* p = find(key);
  if (p == nullptr) return;
  // The inline flag, not timeline::on(): no out-of-line call per task with timeline=0.
  if (events::g_timeline_on) {
    Worker* w = worker_of(*p, current_tid());
    int64_t now = sys::monotonic_ns();
    if (w != nullptr && w->busy &&
        now - w->busy_since_ns >= events::g_timeline_min_ns.load(std::memory_order_relaxed)) {
      span.set(timeline::kTask, w->busy_since_ns, now, p->name);
    }
  }
  finish_locked(*p, current_tid());
}

bool watch(int64_t threshold_ns, std::vector<QueueView>* out) {
  LockGuard g(lock);
  for (Pool& p : *table) {
    if (p.queue.empty() && p.starved == 0) continue;
    QueueView q;
    q.pool = view_of(p);
    q.busy = p.busy;
    q.waiting = static_cast<int>(p.queue.size());
    for (const Waiting& w : p.queue) {
      if (w.submission != nullptr && w.submission->batch) continue;
      q.oldest_ns = w.queued_ns;
      if (w.submission != nullptr) q.oldest = *w.submission;
      break;
    }
    // Its stacks were not kept (8 waiting tasks had them when it came): those of the newest
    // task of the same function that has them, most likely submitted from the same place.
    const Submission* stand_in = p.last_with_stacks.get();
    if (q.oldest_ns != 0 && q.oldest.stack == 0 && q.oldest.python_stack.empty() &&
        stand_in != nullptr && stand_in->task == q.oldest.task) {
      q.oldest.stack = stand_in->stack;
      q.oldest.python_stack = stand_in->python_stack;
      if (q.oldest.submitter.tid == 0) q.oldest.submitter = stand_in->submitter;
    }
    q.starved = p.starved;
    q.starved_max_ns = p.starved_max_ns;
    q.starved_worst = std::move(p.starved_worst);
    p.starved = 0;
    p.starved_max_ns = 0;
    p.starved_worst = Submission();
    (void)threshold_ns;
    out->push_back(std::move(q));
  }
  if (out->empty()) watching = false;
  return !out->empty();
}

void thread_exiting() {
  if (t_pool == 0) return;
  pid_t tid = current_tid();
  LockGuard g(lock);
  if (Pool* p = find(t_pool)) leave_locked(*p, tid);
  t_pool = 0;
}

void reset_after_fork() {
  // The child has no workers: every pool's threads stayed in the parent (the forking thread,
  // if it was one, runs on in the child but as nobody's worker).
  if (lock.reset_after_fork()) {
    table = new std::vector<Pool>();
  } else {
    // The pools stay known (a child may go on using an executor it inherited); their workers
    // and queued tasks do not exist here.
    for (Pool& p : *table) {
      p.workers.clear();
      p.busy = 0;
      p.queue.clear();
      p.kept = 0;
      p.starved = 0;
    }
  }
  watching = false;
  t_pool = 0;
  t_worker = 0;
}

}  // namespace loopsan::pools
