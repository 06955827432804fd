#include "agent/detectors/pool_starvation.h"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/base/json.h"
#include "agent/base/options.h"
#include "agent/base/text.h"
#include "agent/core/pools.h"
#include "agent/report/episodes.h"
#include "agent/report/finding_table.h"
#include "agent/report/reporter.h"
#include "agent/stacks/parked_stack.h"

namespace loopsan::pool_starvation {
namespace {

// Pools in a reported episode, by key: the episode's handle (episodes.h). Watchdog thread
// only; leaked in a fork() child.
std::unordered_map<uintptr_t, int>* open_episodes = new std::unordered_map<uintptr_t, int>();

int64_t threshold_ns() {
  return int64_t{options().starvation_threshold_ms} * 1000000;
}

const char* kind_words(pools::PoolKind kind) {
  switch (kind) {
    case pools::PoolKind::kPythonExecutor:
      return "ThreadPoolExecutor";
    case pools::PoolKind::kAsio:
      return "asio thread_pool";
    default:
      return "pool";
  }
}

// The caller's line of a submission: the innermost frame outside concurrent.futures and
// asyncio's own code.
std::string caller_words(const std::vector<python::PyFrame>& frames) {
  for (const python::PyFrame& f : frames) {
    if (f.file.find("/concurrent/futures/") != std::string::npos ||
        f.file.find("/asyncio/") != std::string::npos) {
      continue;
    }
    return cat(" from ", f.function, " (", f.file, ":", f.line, ")");
  }
  return {};
}

// A busy worker, as the finding's "threads" describes it.
FindingThread describe_worker(const pools::WorkerView& w, int64_t now,
                              const python::ThreadStacks& python) {
  FindingThread t;
  t.thread.tid = w.tid;
  t.thread.name = parked::task_name(w.tid);
  t.thread.role = ThreadRole::kPool;
  t.add_field("busy_ms", cat((now - w.busy_since_ns) / 1000000));
  if (!w.task.empty()) t.add_field("task", json_quote(w.task));
  parked::Stack s;
  parked::sample(w.tid, &s);
  t.add_field("state",
              json_quote(s.call.state == parked::Syscall::State::kParked ? "parked" : "running"));
  t.add_field("waiting_in", json_quote(parked::waiting_in(s.call)));
  if (s.size > 0) t.stacks.emplace_back("stack", depot::intern(s.ips, s.size));
  for (const auto& [ident, frames] : python) {
    if (ident == w.python_ident && w.python_ident != 0) {
      t.python_stacks.emplace_back("python_stack", frames);
      break;
    }
  }
  return t;
}

void report(const pools::QueueView& q, int64_t queue_ns, bool still_waiting,
            const pools::Submission& s, int64_t now) {
  int workers = static_cast<int>(q.pool.workers.size());
  int size = q.pool.max_workers > 0 ? q.pool.max_workers : workers;
  python::ThreadStacks python;
  bool any_python = false;
  for (const pools::WorkerView& w : q.pool.workers) any_python |= w.python_ident != 0;
  if (any_python && python::present()) python = python::all_thread_stacks();

  Finding f;
  f.kind = Kind::kPoolStarvation;
  f.thread = s.submitter;
  if (f.thread.tid == 0 && !q.pool.workers.empty()) {
    f.thread.tid = q.pool.workers[0].tid;
    f.thread.name = parked::task_name(f.thread.tid);
    f.thread.role = ThreadRole::kPool;
  }
  int64_t queue_ms = queue_ns / 1000000;
  std::string task = s.task.empty() ? std::string("a task") : s.task;
  std::string via = s.via.empty() ? std::string() : cat(" through ", s.via);
  f.message = cat(task, ", submitted", via, caller_words(s.python_stack), ", ",
                  still_waiting ? "has waited " : "waited ", queue_ms, " ms in the queue of ",
                  kind_words(q.pool.kind), " '", q.pool.name, "': ", q.busy, " of its ", size,
                  " workers were busy",
                  q.waiting > 0 ? cat(", ", q.waiting, " tasks waiting") : std::string());
  f.add_field("queue_ms", cat(queue_ms));
  f.add_field("still_waiting", still_waiting ? "true" : "false");
  f.add_field("pool", cat("{\"name\":", json_quote(q.pool.name),
                          ",\"kind\":", json_quote(kind_words(q.pool.kind)), ",\"workers\":", size,
                          ",\"started\":", workers, ",\"busy\":", q.busy, "}"));
  f.add_field("task", json_quote(task));
  if (!s.via.empty()) f.add_field("submitted_via", json_quote(s.via));
  f.add_field("waiting", cat(q.waiting));
  f.add_field("starved", cat(q.starved + (still_waiting ? 1 : 0)));
  if (s.stack != 0) f.stacks.emplace_back("stack", s.stack);
  if (!s.python_stack.empty()) f.python_stacks.emplace_back("python_stack", s.python_stack);
  // Identified by where the task was submitted; without a submission stack by pool and task.
  if (s.stack == 0 && s.python_stack.empty()) f.identity = cat(q.pool.name, "\n", task);
  for (const pools::WorkerView& w : q.pool.workers) {
    if (w.busy) f.threads.push_back(describe_worker(w, now, python));
  }
  uint64_t raw = reporter::raw_hash(f);
  reporter::submit(f);
  (*open_episodes)[q.pool.key] =
      episodes::begin(finding_table::id_of(raw), still_waiting ? now - queue_ns : now);
}

}  // namespace

int64_t period_ns() {
  int64_t p = threshold_ns() / 4;
  return std::clamp<int64_t>(p, 10000000, 250000000);
}

bool tick(int64_t now) {
  int64_t threshold = threshold_ns();
  std::vector<pools::QueueView> queues;
  bool more = pools::watch(threshold, &queues);
  // Pools whose queue emptied: their episodes are over.
  for (auto it = open_episodes->begin(); it != open_episodes->end();) {
    bool busy = false;
    for (const pools::QueueView& q : queues) {
      busy |= q.pool.key == it->first && (q.waiting > 0 || q.starved > 0);
    }
    if (busy) {
      ++it;
      continue;
    }
    if (it->second >= 0) episodes::end(it->second, now);
    it = open_episodes->erase(it);
  }
  if (threshold <= 0) return more;
  for (const pools::QueueView& q : queues) {
    if (open_episodes->count(q.pool.key) != 0) continue;  // reported this episode
    if (q.oldest_ns != 0 && now - q.oldest_ns >= threshold) {
      pools::Submission s = q.oldest;
      report(q, now - q.oldest_ns, true, s, now);
    } else if (q.starved > 0) {
      report(q, q.starved_max_ns, false, q.starved_worst, now);
    }
  }
  return more || !open_episodes->empty();
}

void reset_after_fork() {
  open_episodes = new std::unordered_map<uintptr_t, int>();
}

}  // namespace loopsan::pool_starvation
