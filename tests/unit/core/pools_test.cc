// The pools' registry (core/pools.h): when a queued task will wait, how a started task's queue
// wait is measured and counted, Executor.map's batches left out, and what pool-starvation and
// gil-contention read back. Each test uses a pool of its own and destroys it.
#include <boost/test/unit_test.hpp>

#include <thread>

#include "agent/base/thread_state.h"
#include "agent/core/pools.h"

namespace pools = loopsan::pools;

namespace {

constexpr int64_t kMs = 1000000;
// options()'s default starvation_threshold_ms.
constexpr int64_t kThreshold = 1000 * kMs;

const pools::QueueView* view_of(const std::vector<pools::QueueView>& views, uintptr_t key) {
  for (const auto& v : views) {
    if (v.pool.key == key) return &v;
  }
  return nullptr;
}

// Runs `body` on a thread of its own (a worker), which then leaves the pool.
template <typename F>
void on_worker(F body) {
  std::thread([&] {
    body();
    pools::thread_exiting();
  }).join();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pools_registry)

BOOST_AUTO_TEST_CASE(a_task_waits_once_every_worker_is_busy_or_promised) {
  int pool = 0;
  uintptr_t key = reinterpret_cast<uintptr_t>(&pool);
  pools::pool_created(key, pools::PoolKind::kCApi, "two", 2);
  BOOST_TEST(!pools::task_queued(key, 1, 0));  // two idle workers
  BOOST_TEST(!pools::task_queued(key, 2, 0));
  BOOST_TEST(pools::task_queued(key, 3, 0));  // both promised
  on_worker([&] {
    pools::task_started(key, 1, "first", 1 * kMs);
    BOOST_TEST(pools::current_is_worker());
    BOOST_TEST(pools::is_worker(loopsan::current_tid()));
    auto snap = pools::snapshot();
    bool seen = false;
    for (const auto& p : snap) {
      if (p.key != key) continue;
      seen = true;
      BOOST_TEST(p.name == "two");
      BOOST_TEST(p.max_workers == 2);
      BOOST_REQUIRE(p.workers.size() == 1u);
      BOOST_TEST(p.workers[0].busy);
      BOOST_TEST(p.workers[0].task == "first");
      BOOST_TEST(p.workers[0].python_ident == 0u);  // not a Python pool
    }
    BOOST_TEST(seen);
    pools::task_finished(key, 2 * kMs);
  });
  BOOST_TEST(!pools::is_worker(0));
  pools::pool_destroyed(key);
}

BOOST_AUTO_TEST_CASE(a_fifo_task_that_waited_past_the_threshold_is_counted_once) {
  int pool = 0;
  uintptr_t key = reinterpret_cast<uintptr_t>(&pool);
  pools::pool_created(key, pools::PoolKind::kPythonExecutor, "fifo", 1);
  pools::task_queued(key, 0, 0);
  BOOST_TEST(pools::task_queued(key, 0, 10 * kMs));  // behind the first
  pools::Submission s;
  s.task = "slow";
  s.via = "run_in_executor";
  pools::task_submission(key, 0, s);
  on_worker([&] {
    pools::task_started(key, 0, "first", 20 * kMs);  // waited 20 ms: fine
    pools::task_finished(key, 2000 * kMs);
    pools::task_started(key, 0, "slow", 2010 * kMs);  // waited 2 s
  });
  std::vector<pools::QueueView> views;
  BOOST_TEST(pools::watch(kThreshold, &views));
  const pools::QueueView* v = view_of(views, key);
  BOOST_REQUIRE(v != nullptr);
  BOOST_TEST(v->starved == 1);
  BOOST_TEST(v->starved_max_ns == 2000 * kMs);
  BOOST_TEST(v->starved_worst.task == "slow");
  BOOST_TEST(v->starved_worst.via == "run_in_executor");
  BOOST_TEST(v->waiting == 0);
  // Read and reset: the next look has nothing for this pool.
  views.clear();
  pools::watch(kThreshold, &views);
  BOOST_TEST(view_of(views, key) == nullptr);
  pools::pool_destroyed(key);
}

BOOST_AUTO_TEST_CASE(map_batches_never_starve) {
  int pool = 0;
  uintptr_t key = reinterpret_cast<uintptr_t>(&pool);
  pools::pool_created(key, pools::PoolKind::kPythonExecutor, "batch", 1);
  pools::task_queued(key, 0, 5 * kMs);
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(pools::task_queued(key, 0, 5 * kMs));
    pools::Submission s;
    s.via = "map";
    s.batch = true;
    pools::task_submission(key, 0, s);
  }
  std::vector<pools::QueueView> views;
  pools::watch(kThreshold, &views);
  const pools::QueueView* v = view_of(views, key);
  BOOST_REQUIRE(v != nullptr);
  BOOST_TEST(v->waiting == 4);
  BOOST_TEST(v->oldest_ns == 5 * kMs);  // the first task came with no batch
  on_worker([&] {
    pools::task_started(key, 0, "job", 6 * kMs);
    pools::task_finished(key, 2000 * kMs);
    pools::task_started(key, 0, "job", 2001 * kMs);  // a batch task that waited 2 s
  });
  views.clear();
  pools::watch(kThreshold, &views);
  v = view_of(views, key);
  BOOST_REQUIRE(v != nullptr);
  BOOST_TEST(v->waiting == 2);
  BOOST_TEST(v->oldest_ns == 0);  // only batch tasks wait
  BOOST_TEST(v->starved == 0);
  pools::pool_destroyed(key);
}

BOOST_AUTO_TEST_CASE(tasks_with_an_identity_leave_the_queue_in_any_order) {
  int pool = 0;
  uintptr_t key = reinterpret_cast<uintptr_t>(&pool);
  pools::pool_created(key, pools::PoolKind::kCApi, "any-order", 1);
  pools::task_queued(key, 0xa, 100 * kMs);
  pools::task_queued(key, 0xb, 200 * kMs);
  on_worker([&] { pools::task_started(key, 0xb, {}, 300 * kMs); });
  std::vector<pools::QueueView> views;
  pools::watch(kThreshold, &views);
  const pools::QueueView* v = view_of(views, key);
  BOOST_REQUIRE(v != nullptr);
  BOOST_TEST(v->waiting == 1);
  BOOST_TEST(v->oldest_ns == 100 * kMs);  // 0xa still waits
  pools::task_dropped(key, 0xa);
  views.clear();
  pools::watch(kThreshold, &views);
  BOOST_TEST(view_of(views, key) == nullptr);
  pools::pool_destroyed(key);
}

BOOST_AUTO_TEST_SUITE_END()
