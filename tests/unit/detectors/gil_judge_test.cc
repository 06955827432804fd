// gil-contention's rule (agent/detectors/gil_judge.h), fed synthetic samples: pools of workers
// whose GIL waits, CPU time and run delay advance as the scenarios say, 100 ms apart.
#include <boost/test/unit_test.hpp>

#include <vector>

#include "agent/detectors/gil_judge.h"

using loopsan::gil_judge::Judge;
using loopsan::gil_judge::PoolSample;
using loopsan::gil_judge::Verdict;
using loopsan::gil_judge::WorkerSample;

namespace {

constexpr int64_t kMs = 1000000;
constexpr int64_t kTick = 100 * kMs;

// How one worker spends each 100 ms interval.
struct Share {
  bool busy = true;
  int64_t gil_ms = 0;
  int64_t cpu_ms = 0;
  int64_t delay_ms = 0;
};

// A pool whose workers spend every interval as `shares` says, sampled `ticks` times, while the
// rest of the process (the main thread) runs `other_cpu_ms` per interval; returns every
// verdict, with the tick that gave it.
struct Run {
  std::vector<std::pair<int, Verdict>> verdicts;
  bool watching = false;
};

Run run_pool(Judge& judge, const std::vector<Share>& shares, int ticks, int first_tick = 0,
             std::vector<WorkerSample>* totals = nullptr, int64_t other_cpu_ms = 0) {
  std::vector<WorkerSample> own(shares.size());
  std::vector<WorkerSample>& workers = totals != nullptr ? *totals : own;
  workers.resize(shares.size());
  Run run;
  for (int t = first_tick; t < first_tick + ticks; ++t) {
    PoolSample pool{.key = 7, .name = "ThreadPoolExecutor-0", .max_workers = 4, .workers = {}};
    for (size_t i = 0; i < shares.size(); ++i) {
      WorkerSample& w = workers[i];
      w.tid = static_cast<pid_t>(100 + i);
      w.python_ident = 1000 + i;
      w.task = "cpu_bound";
      if (w.gil_wait_ns < 0) w.gil_wait_ns = 0;
      if (w.cpu_ns < 0) w.cpu_ns = 0;
      if (t > first_tick || first_tick > 0) {
        w.gil_wait_ns += shares[i].gil_ms * kMs;
        w.cpu_ns += shares[i].cpu_ms * kMs;
        w.run_delay_ns += shares[i].delay_ms * kMs;
      }
      w.busy = shares[i].busy;
      pool.workers.push_back(w);
    }
    int64_t process_cpu = t * other_cpu_ms * kMs;
    for (const WorkerSample& w : workers) process_cpu += w.cpu_ns;
    for (Verdict& v : judge.feed(t * kTick, process_cpu, {pool})) run.verdicts.emplace_back(t, v);
  }
  run.watching = judge.watching();
  return run;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gil_judge)

BOOST_AUTO_TEST_CASE(two_cpu_bound_workers_are_reported_once_after_200_ms) {
  Judge judge;
  // Two workers taking turns: each runs half the time and waits for the GIL the other half.
  Run r = run_pool(judge, {{.gil_ms = 50, .cpu_ms = 50}, {.gil_ms = 50, .cpu_ms = 50}}, 20);
  BOOST_REQUIRE_EQUAL(r.verdicts.size(), 1u);
  const auto& [tick, v] = r.verdicts[0];
  BOOST_TEST(tick == 2);  // two contended intervals: 200 ms
  BOOST_TEST(v.what == Verdict::kReport);
  BOOST_TEST(v.pool_name == "ThreadPoolExecutor-0");
  BOOST_TEST(v.duration_ns == 200 * kMs);
  BOOST_TEST(v.gil_wait_ratio == 0.5, boost::test_tools::tolerance(0.001));
  BOOST_REQUIRE_EQUAL(v.workers.size(), 2u);
  BOOST_TEST(v.workers[0].task == "cpu_bound");
  BOOST_TEST(v.workers[0].python_ident >= 1000u);
  BOOST_TEST(r.watching);
}

BOOST_AUTO_TEST_CASE(a_loaded_machine_still_shows_two_workers) {
  Judge judge;
  // Measured at load 6 on 2 cores: each worker runs a third of the time, waits for the GIL a
  // quarter of it and for a CPU most of the rest.
  Run r = run_pool(
      judge,
      {{.gil_ms = 24, .cpu_ms = 33, .delay_ms = 40}, {.gil_ms = 22, .cpu_ms = 34, .delay_ms = 38}},
      5);
  BOOST_REQUIRE_EQUAL(r.verdicts.size(), 1u);
  BOOST_TEST(r.verdicts[0].second.gil_wait_ratio > 0.3);
}

BOOST_AUTO_TEST_CASE(a_heavily_loaded_machine_does_not_hide_it) {
  Judge judge;
  // Eight runnable threads for two cores: the workers hardly run, but what the process runs is
  // theirs, and they wait for each other's GIL.
  Run r = run_pool(
      judge,
      {{.gil_ms = 30, .cpu_ms = 8, .delay_ms = 60}, {.gil_ms = 28, .cpu_ms = 9, .delay_ms = 62}},
      5);
  BOOST_REQUIRE_EQUAL(r.verdicts.size(), 1u);
}

BOOST_AUTO_TEST_CASE(the_episode_ends_when_the_work_does) {
  Judge judge;
  std::vector<WorkerSample> totals;
  Run busy = run_pool(
      judge,
      {{.gil_ms = 70, .cpu_ms = 30}, {.gil_ms = 70, .cpu_ms = 30}, {.gil_ms = 70, .cpu_ms = 30}}, 6,
      0, &totals);
  BOOST_REQUIRE_EQUAL(busy.verdicts.size(), 1u);
  // The tasks end: the workers are idle from the next sample on.
  Run idle = run_pool(judge, {{.busy = false}, {.busy = false}, {.busy = false}}, 3, 6, &totals);
  BOOST_REQUIRE_EQUAL(idle.verdicts.size(), 1u);
  const Verdict& end = idle.verdicts[0].second;
  BOOST_TEST(end.what == Verdict::kEnded);
  BOOST_TEST(end.duration_ns == 500 * kMs);  // from 0 to the last contended sample (tick 5)
  BOOST_TEST(!idle.watching);                // nothing busy: the watchdog may sleep
}

BOOST_AUTO_TEST_CASE(one_noisy_interval_does_not_split_an_episode) {
  Judge judge;
  std::vector<WorkerSample> totals;
  std::vector<Share> contended = {{.gil_ms = 50, .cpu_ms = 50}, {.gil_ms = 50, .cpu_ms = 50}};
  std::vector<Share> noisy = {{.gil_ms = 10, .cpu_ms = 90}, {.gil_ms = 10, .cpu_ms = 90}};
  Run a = run_pool(judge, contended, 4, 0, &totals);
  Run b = run_pool(judge, noisy, 1, 4, &totals);
  Run c = run_pool(judge, contended, 4, 5, &totals);
  BOOST_TEST(a.verdicts.size() == 1u);
  BOOST_TEST(b.verdicts.empty());
  BOOST_TEST(c.verdicts.empty());  // the same episode: no second report
}

BOOST_AUTO_TEST_CASE(a_single_cpu_bound_worker_is_not_contention) {
  Judge judge;
  // It may wait for the GIL (the main thread computes too), but no other worker does.
  Run r = run_pool(judge, {{.gil_ms = 50, .cpu_ms = 50}, {.busy = false}}, 20);
  BOOST_TEST(r.verdicts.empty());
  BOOST_TEST(!r.watching);
}

BOOST_AUTO_TEST_CASE(sleeping_workers_are_not_computing) {
  Judge judge;
  // I/O-bound: asleep most of the time, a short GIL wait after each wake-up.
  Run r = run_pool(judge,
                   {{.gil_ms = 3, .cpu_ms = 2},
                    {.gil_ms = 4, .cpu_ms = 2},
                    {.gil_ms = 2, .cpu_ms = 3},
                    {.gil_ms = 3, .cpu_ms = 2}},
                   20);
  BOOST_TEST(r.verdicts.empty());
  BOOST_TEST(r.watching);  // four busy workers: still watched
}

BOOST_AUTO_TEST_CASE(io_bound_workers_behind_a_cpu_bound_main_thread_are_not_reported) {
  Judge judge;
  // Each wake-up from a 5 ms sleep waits up to 5 ms for a GIL the main thread keeps: half the
  // time waiting for the GIL, but the pool itself hardly runs.
  Run r = run_pool(judge,
                   {{.gil_ms = 50, .cpu_ms = 2, .delay_ms = 5},
                    {.gil_ms = 48, .cpu_ms = 2, .delay_ms = 5},
                    {.gil_ms = 52, .cpu_ms = 1, .delay_ms = 5}},
                   20, 0, nullptr, 95);
  BOOST_TEST(r.verdicts.empty());
}

BOOST_AUTO_TEST_CASE(workers_that_release_the_gil_are_not_reported) {
  Judge judge;
  // C code that releases the GIL (hashlib, zlib, numpy): running nearly all the time.
  Run r = run_pool(judge, {{.gil_ms = 5, .cpu_ms = 95}, {.gil_ms = 6, .cpu_ms = 94}}, 20);
  BOOST_TEST(r.verdicts.empty());
}

BOOST_AUTO_TEST_CASE(a_pool_that_goes_away_ends_its_episode) {
  Judge judge;
  Run r = run_pool(judge, {{.gil_ms = 50, .cpu_ms = 50}, {.gil_ms = 50, .cpu_ms = 50}}, 4);
  BOOST_REQUIRE_EQUAL(r.verdicts.size(), 1u);
  judge.set_episode(7, 42);
  std::vector<Verdict> gone = judge.feed(5 * kTick, -1, {});
  BOOST_REQUIRE_EQUAL(gone.size(), 1u);
  BOOST_TEST(gone[0].what == Verdict::kEnded);
  BOOST_TEST(gone[0].episode == 42);
  BOOST_TEST(!judge.watching());
}

BOOST_AUTO_TEST_SUITE_END()
