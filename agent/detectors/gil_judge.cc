#include "agent/detectors/gil_judge.h"

#include <algorithm>
#include <utility>

namespace loopsan::gil_judge {
namespace {

double ratio_of(const std::map<pid_t, WorkerFigures>& figures) {
  int64_t waited = 0, spent = 0;
  for (const auto& [tid, f] : figures) {
    waited += f.gil_wait_ns;
    spent += f.gil_wait_ns + f.cpu_ns;
  }
  return spent > 0 ? static_cast<double>(waited) / static_cast<double>(spent) : 0;
}

}  // namespace

Verdict Judge::verdict(uintptr_t key, const PoolState& state, Verdict::What what, int64_t end_ns) {
  Verdict v;
  v.what = what;
  v.pool = key;
  v.pool_name = state.name;
  v.max_workers = state.max_workers;
  v.busy = state.busy;
  v.start_ns = state.start_ns;
  v.duration_ns = end_ns - state.start_ns;
  v.gil_wait_ratio = ratio_of(state.figures);
  for (const auto& [tid, f] : state.figures) v.workers.push_back(f);
  std::sort(v.workers.begin(), v.workers.end(),
            [](const WorkerFigures& a, const WorkerFigures& b) { return a.cpu_ns > b.cpu_ns; });
  v.episode = state.episode;
  return v;
}

std::vector<Verdict> Judge::feed(int64_t now_ns, int64_t process_cpu_ns,
                                 const std::vector<PoolSample>& pools) {
  std::vector<Verdict> out;
  // The whole process's CPU time since the previous feed (every known pool's interval).
  int64_t process_ran =
      process_cpu_ns >= 0 && process_cpu_ns_ >= 0 ? process_cpu_ns - process_cpu_ns_ : -1;
  process_cpu_ns_ = process_cpu_ns;
  std::map<uintptr_t, PoolState> next;
  watching_ = false;
  for (const PoolSample& pool : pools) {
    auto found = pools_.find(pool.key);
    bool known = found != pools_.end();
    PoolState state = known ? std::move(found->second) : PoolState{};
    if (known) pools_.erase(found);
    state.name = pool.name;
    state.max_workers = pool.max_workers;
    state.busy = 0;
    for (const WorkerSample& w : pool.workers) state.busy += w.busy ? 1 : 0;

    // This interval: the workers that computed through it, and their GIL waits.
    std::vector<WorkerFigures> computed;
    int64_t waited = 0, ran = 0;
    int64_t interval = now_ns - state.at_ns;
    for (const WorkerSample& w : pool.workers) {
      auto prev = state.workers.find(w.tid);
      if (!known || interval <= 0 || !w.busy || w.gil_wait_ns < 0 || w.cpu_ns < 0 ||
          prev == state.workers.end() || !prev->second.busy || prev->second.gil_wait_ns < 0 ||
          prev->second.cpu_ns < 0) {
        continue;
      }
      int64_t g = w.gil_wait_ns - prev->second.gil_wait_ns;
      int64_t c = w.cpu_ns - prev->second.cpu_ns;
      int64_t r = std::max<int64_t>(w.run_delay_ns - prev->second.run_delay_ns, 0);
      if (g < 0 || c < 0) continue;  // a reused thread id
      // (The wake-up latency at the end of a GIL wait is in both g and r: the sum may pass
      // the interval.)
      if (static_cast<double>(g + c + r) <
          config_.min_computing_share * static_cast<double>(interval)) {
        continue;  // sleeping or doing I/O, with the GIL released
      }
      computed.push_back({.tid = w.tid,
                          .python_ident = w.python_ident,
                          .task = w.task,
                          .wall_ns = interval,
                          .gil_wait_ns = std::min(g, interval),
                          .cpu_ns = c});
      waited += std::min(g, interval);
      ran += c;
    }
    bool contended =
        static_cast<int>(computed.size()) >= config_.min_workers &&
        (process_ran < 0 || static_cast<double>(ran) >=
                                config_.min_process_cpu_share * static_cast<double>(process_ran)) &&
        static_cast<double>(waited) >= config_.min_ratio * static_cast<double>(waited + ran);

    if (contended) {
      if (!state.open) {
        state.open = true;
        state.reported = false;
        state.episode = -1;
        state.start_ns = state.at_ns;
        state.figures.clear();
      }
      state.quiet = 0;
      state.last_contended_ns = now_ns;
      for (const WorkerFigures& f : computed) {
        WorkerFigures& sum = state.figures[f.tid];
        sum.tid = f.tid;
        sum.python_ident = f.python_ident;
        if (!f.task.empty()) sum.task = f.task;
        sum.wall_ns += f.wall_ns;
        sum.gil_wait_ns += f.gil_wait_ns;
        sum.cpu_ns += f.cpu_ns;
      }
      if (!state.reported && now_ns - state.start_ns >= config_.min_duration_ns &&
          ratio_of(state.figures) >= config_.min_ratio) {
        out.push_back(verdict(pool.key, state, Verdict::kReport, now_ns));
        state.reported = true;
      }
    } else if (state.open) {
      ++state.quiet;
      if (state.busy < config_.min_workers || state.quiet >= config_.quiet_intervals_to_end) {
        if (state.reported) {
          out.push_back(verdict(pool.key, state, Verdict::kEnded, state.last_contended_ns));
        }
        state.open = false;
        state.figures.clear();
      }
    }

    state.at_ns = now_ns;
    state.workers.clear();
    for (const WorkerSample& w : pool.workers) {
      state.workers[w.tid] = {.busy = w.busy,
                              .gil_wait_ns = w.gil_wait_ns,
                              .cpu_ns = w.cpu_ns,
                              .run_delay_ns = w.run_delay_ns};
    }
    if (state.busy >= config_.min_workers || state.open) watching_ = true;
    next.emplace(pool.key, std::move(state));
  }
  // Pools that are gone (shut down): their open episodes end where they were last contended.
  for (const auto& [key, state] : pools_) {
    if (state.open && state.reported) {
      out.push_back(verdict(key, state, Verdict::kEnded, state.last_contended_ns));
    }
  }
  pools_ = std::move(next);
  return out;
}

void Judge::set_episode(uintptr_t pool, int handle) {
  auto it = pools_.find(pool);
  if (it != pools_.end()) it->second.episode = handle;
}

}  // namespace loopsan::gil_judge
