#include "agent/detectors/gil_contention.h"

#include <sys/syscall.h>
#include <time.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "agent/base/errno_saver.h"
#include "agent/base/json.h"
#include "agent/base/log.h"
#include "agent/base/sys.h"
#include "agent/base/text.h"
#include "agent/base/thread_state.h"
#include "agent/core/pools.h"
#include "agent/core/thread_registry.h"
#include "agent/core/watchdog.h"
#include "agent/detectors/gil_judge.h"
#include "agent/report/episodes.h"
#include "agent/report/finding.h"
#include "agent/report/finding_table.h"
#include "agent/report/reporter.h"
#include "agent/runtimes/gil_waits.h"
#include "agent/runtimes/python_bridge.h"
#include "agent/stacks/parked_stack.h"

namespace loopsan::gil_contention {
namespace {

constexpr int64_t kPeriodNs = 100000000;
// How often one thread's GIL waits may ask whether it is a pool worker, while nothing watches.
constexpr int64_t kAskEveryNs = 250000000;

// The check is awake (woken and not yet gone idle): the waiting threads then ask nothing.
std::atomic<bool> watching{false};
__thread int64_t tls_next_ask_ns __attribute__((tls_model("initial-exec")));

// The watchdog thread's only (no lock: nothing else touches it). Leaked in a fork() child.
gil_judge::Judge* judge = new gil_judge::Judge();

// A busy worker's CPU time and run delay so far, from /proc/self/task/TID/schedstat
// ("sum_exec_runtime run_delay timeslices", in ns; the kernel's CONFIG_SCHED_INFO, which
// Debian's kernels have), in one read; without it, the CPU clock and no run delay.
void read_times(pid_t tid, gil_judge::WorkerSample* s) {
  char path[64], text[128];
  snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", static_cast<int>(tid));
  unsigned long long cpu = 0, delay = 0;
  if (sys::read_small_file(path, text, sizeof text) > 0 &&
      sscanf(text, "%llu %llu", &cpu, &delay) == 2) {
    s->cpu_ns = static_cast<int64_t>(cpu);
    s->run_delay_ns = static_cast<int64_t>(delay);
    return;
  }
  s->cpu_ns = sys::thread_cpu_ns(tid);
}

std::string percent(double ratio) {
  return cat(static_cast<int>(ratio * 100 + 0.5), "%");
}

std::string two_decimals(double v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

const std::vector<python::PyFrame>* stack_of(const python::ThreadStacks& stacks,
                                             unsigned long ident) {
  for (const auto& [id, frames] : stacks) {
    if (id == ident && ident != 0) return &frames;
  }
  return nullptr;
}

// The worker's own frame: the innermost that is not concurrent.futures' or threading's
// machinery (a task that is the CPU-bound function itself is its innermost frame).
const python::PyFrame* own_frame(const std::vector<python::PyFrame>& frames) {
  for (const python::PyFrame& f : frames) {
    auto ends = [&](const char* tail) {
      return f.file.size() >= strlen(tail) &&
             f.file.compare(f.file.size() - strlen(tail), std::string::npos, tail) == 0;
    };
    if (!ends("concurrent/futures/thread.py") && !ends("/threading.py")) return &f;
  }
  return nullptr;
}

int report(const gil_judge::Verdict& v) {
  python::ThreadStacks stacks = python::all_thread_stacks();
  const gil_judge::WorkerFigures& top = v.workers.front();
  Finding f;
  f.kind = Kind::kGilContention;
  f.thread.tid = top.tid;
  f.thread.name = parked::task_name(top.tid);
  f.thread.role = ThreadRole::kPool;
  const std::vector<python::PyFrame>* frames = stack_of(stacks, top.python_ident);
  const python::PyFrame* own = frames != nullptr ? own_frame(*frames) : nullptr;
  std::string where = own != nullptr      ? cat(own->function, " (", own->file, ":", own->line, ")")
                      : !top.task.empty() ? top.task
                                          : std::string("its tasks");
  int64_t cpu_ns = 0, wall_ns = 0;
  for (const auto& w : v.workers) {
    cpu_ns += w.cpu_ns;
    wall_ns += w.wall_ns;
  }
  int64_t duration_ms = v.duration_ns / 1000000;
  f.message =
      cat(v.workers.size(), " workers of thread pool '", v.pool_name,
          "' running CPU-bound Python code in ", where, " spent ", percent(v.gil_wait_ratio),
          " of their interpreter time waiting for the GIL over ", duration_ms,
          " ms: threads run it one at a time; use a ProcessPoolExecutor (or code that "
          "releases the GIL)");
  f.add_field("pool", cat("{\"name\":", json_quote(v.pool_name), ",\"workers\":", v.max_workers,
                          ",\"busy\":", v.busy, "}"));
  f.add_field("gil_wait_ratio", two_decimals(v.gil_wait_ratio));
  f.add_field("duration_ms", cat(duration_ms));
  if (!top.task.empty()) f.add_field("task", json_quote(top.task));
  // The computing workers' CPU time within the episode, and what it would have been with one
  // GIL per worker (their wall time): how much parallelism the pool lost.
  f.add_field("cpu_ms", cat(cpu_ns / 1000000));
  f.add_field("workers_wall_ms", cat(wall_ns / 1000000));
  f.add_field("advice", json_quote("ProcessPoolExecutor"));
  f.python_stacks.emplace_back("python_stack",
                               frames != nullptr ? *frames : std::vector<python::PyFrame>{});
  for (const gil_judge::WorkerFigures& w : v.workers) {
    FindingThread t;
    t.thread.tid = w.tid;
    t.thread.name = parked::task_name(w.tid);
    t.thread.role = ThreadRole::kPool;
    t.add_field("gil_wait_ratio", two_decimals(w.gil_wait_ratio()));
    t.add_field("cpu_ms", cat(w.cpu_ns / 1000000));
    t.add_field("wall_ms", cat(w.wall_ns / 1000000));
    if (!w.task.empty()) t.add_field("task", json_quote(w.task));
    const std::vector<python::PyFrame>* own_stack = stack_of(stacks, w.python_ident);
    t.python_stacks.emplace_back(
        "python_stack", own_stack != nullptr ? *own_stack : std::vector<python::PyFrame>{});
    f.threads.push_back(std::move(t));
  }
  // One bug per CPU-bound code path, wherever the sample landed in it: the id is the stack's
  // functions and files without their lines (and without the pool's name, which counts pools
  // in creation order). "identity" names no stack: none of the stacks take part.
  std::string identity = top.task;
  if (frames != nullptr) {
    for (size_t i = 0; i < frames->size() && i < 16; ++i) {
      identity += cat("\n", (*frames)[i].file, ":", (*frames)[i].function);
    }
  }
  f.identity = identity;
  f.identity_stacks = {"identity"};
  uint64_t raw = reporter::raw_hash(f);
  reporter::submit(f);
  return episodes::begin(finding_table::id_of(raw), v.start_ns);
}

}  // namespace

void gil_waited(int64_t now_ns) {
  if (watching.load(std::memory_order_relaxed) || now_ns < tls_next_ask_ns) return;
  tls_next_ask_ns = now_ns + kAskEveryNs;
  // A TLS read: this thread has run a pool's task. Not from the agent's own work (the Python
  // stack reader waits for the GIL too). Called inside CPython's take_gil, which holds
  // ceval.gil.mutex: nothing here may wait for a lock another Python thread could hold.
  if (tls_state.guard != 0 || !pools::current_is_worker()) return;
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  if (!watching.exchange(true, std::memory_order_acq_rel)) watchdog::wake(watchdog::kGilContention);
}

int64_t period_ns() {
  return kPeriodNs;
}

bool tick(int64_t now_ns) {
  std::vector<gil_judge::PoolSample> samples;
  for (pools::PoolView& view : pools::snapshot()) {
    if (view.kind != pools::PoolKind::kPythonExecutor) continue;
    gil_judge::PoolSample pool{.key = view.key,
                               .name = std::move(view.name),
                               .max_workers = view.max_workers,
                               .workers = {}};
    for (pools::WorkerView& w : view.workers) {
      gil_judge::WorkerSample s{
          .tid = w.tid, .python_ident = w.python_ident, .busy = w.busy, .task = std::move(w.task)};
      // A worker that never waited for the GIL has waited 0 so far.
      s.gil_wait_ns = gil_waits::waited_ns(w.tid, &s.gil_wait_ns) ? s.gil_wait_ns : 0;
      if (s.busy) read_times(w.tid, &s);
      log_debug(3,
                cat("gil-contention: pool '", pool.name, "' worker ", s.tid,
                    s.busy ? " busy" : " idle", ", GIL wait ", s.gil_wait_ns / 1000000, " ms, CPU ",
                    s.cpu_ns / 1000000, " ms, run delay ", s.run_delay_ns / 1000000, " ms so far"));
      pool.workers.push_back(std::move(s));
    }
    samples.push_back(std::move(pool));
  }
  timespec process{};
  int64_t process_cpu_ns =
      sys::call_with(SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID, &process) == 0
          ? int64_t{process.tv_sec} * 1000000000 + process.tv_nsec
          : -1;
  for (const gil_judge::Verdict& v : judge->feed(now_ns, process_cpu_ns, samples)) {
    if (v.what == gil_judge::Verdict::kReport) {
      if (!v.workers.empty()) judge->set_episode(v.pool, report(v));
    } else if (v.episode >= 0) {
      episodes::end(v.episode, v.start_ns + v.duration_ns);
    }
  }
  if (judge->watching()) return true;
  watching.store(false, std::memory_order_release);
  return false;
}

void reset_after_fork() {
  watching.store(false, std::memory_order_relaxed);
  judge = new gil_judge::Judge();
}

}  // namespace loopsan::gil_contention
