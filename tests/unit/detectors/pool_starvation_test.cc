// pool-starvation driven through the C API's events: a pool whose one worker is busy and whose
// queue holds a task queued long ago (a synthetic timestamp) is reported by the watchdog at
// once, with the pool, the busy worker and where the task was submitted; once per episode;
// Executor.map's batches never.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <atomic>
#include <thread>

#include "agent/base/sys.h"
#include "agent/core/pools.h"
#include "agent/events.h"
#include "agent/stacks/stack.h"
#include "tests/support/stacks.h"
#include "tests/unit/detectors/findings.h"

namespace events = loopsan::events;
namespace pools = loopsan::pools;
using loopsan::test::Findings;
using loopsan::test::stack_has_function;

namespace {

constexpr int64_t kSecond = 1000000000;
// How long ago the test's tasks were queued: half the default threshold (1000 ms). Queueing
// wakes the watchdog at once; a task queued "two seconds ago" could be judged in the moment
// before its submission details (or its batch mark) arrived, which the real pools never allow
// (their tasks are queued now). Half a threshold gives the test its details first, then
// crosses the threshold 500 ms later without the test waiting a whole second.
constexpr int64_t kQueuedAgo = kSecond / 2;

// Findings reported within `ms` (the watchdog ticks every 250 ms at the default threshold).
std::vector<nlohmann::json> findings_within(int ms) {
  std::vector<nlohmann::json> all;
  for (int waited = 0; waited < ms; waited += 50) {
    for (auto& f : Findings::take()) all.push_back(std::move(f));
    usleep(50000);
  }
  for (auto& f : Findings::take()) all.push_back(std::move(f));
  return all;
}

__attribute__((noinline)) void queue_the_report_task(uintptr_t key, uintptr_t task) {
  // Queued half a threshold ago, behind a busy worker: past the threshold (1000 ms) soon.
  BOOST_TEST(pools::task_queued(key, task, loopsan::sys::monotonic_ns() - kQueuedAgo));
  pools::Submission s;
  s.task = "render_report";
  s.via = "loopsan_task_queued";
  s.stack = loopsan::capture_stack();
  pools::task_submission(key, task, s);
}

// The pool's one worker, busy with a task until finish().
class BusyWorker {
 public:
  explicit BusyWorker(const void* pool)
      : thread_([this, pool] {
          events::pool_task_started(pool, nullptr);
          started_ = true;
          while (!release_) usleep(10000);
          events::pool_task_finished(pool, nullptr);
          pools::thread_exiting();
        }) {
    while (!started_) usleep(1000);
  }
  ~BusyWorker() { finish(); }
  void finish() {
    release_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> started_{false}, release_{false};
  std::thread thread_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(pool_starvation)

BOOST_AUTO_TEST_CASE(a_task_past_the_threshold_is_reported_once_per_episode) {
  static int pool;
  const void* p = &pool;
  uintptr_t key = reinterpret_cast<uintptr_t>(p);
  Findings::take();
  events::pool_created(p, "reports", 1);
  BusyWorker worker(p);
  queue_the_report_task(key, 0x1);
  auto found = findings_within(2000);
  BOOST_REQUIRE_EQUAL(found.size(), 1u);
  const nlohmann::json& f = found[0];
  BOOST_TEST(f["kind"] == "pool-starvation");
  BOOST_TEST(f["queue_ms"].get<int>() >= 1000, f.dump());
  BOOST_TEST(f["still_waiting"] == true);
  BOOST_TEST(f["pool"]["name"] == "reports");
  BOOST_TEST(f["pool"]["workers"] == 1);
  BOOST_TEST(f["pool"]["busy"] == 1);
  BOOST_TEST(f["task"] == "render_report");
  BOOST_TEST(f["waiting"] == 1);
  BOOST_TEST(stack_has_function(f["stack"], "queue_the_report_task"), f.dump());
  BOOST_REQUIRE_EQUAL(f["threads"].size(), 1u);
  BOOST_TEST(f["threads"][0]["role"] == "pool");
  // More tasks starving in the same episode: no second finding.
  queue_the_report_task(key, 0x2);
  BOOST_TEST(findings_within(1000).empty());
  // The episode ends with the queue empty.
  pools::task_dropped(key, 0x1);
  pools::task_dropped(key, 0x2);
  worker.finish();
  BOOST_TEST(findings_within(300).empty());
  events::pool_destroyed(p);
}

BOOST_AUTO_TEST_CASE(map_batches_are_never_reported) {
  static int pool;
  const void* p = &pool;
  uintptr_t key = reinterpret_cast<uintptr_t>(p);
  Findings::take();
  events::pool_created(p, "batch", 1);
  BusyWorker worker(p);
  BOOST_TEST(pools::task_queued(key, 0x1, loopsan::sys::monotonic_ns() - kQueuedAgo));
  pools::Submission s;
  s.via = "map";
  s.batch = true;
  pools::task_submission(key, 0x1, s);
  // Past the threshold 500 ms from now: a second and a half of silence covers it.
  BOOST_TEST(findings_within(1500).empty());
  pools::task_dropped(key, 0x1);
  worker.finish();
  events::pool_destroyed(p);
}

BOOST_AUTO_TEST_SUITE_END()
