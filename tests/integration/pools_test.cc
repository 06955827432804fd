// pool-starvation: tasks that wait in a thread pool's queue because every worker is busy with
// something slow. Seed 002's example 2 (run_in_executor(None, ...) from twice as many coroutines
// as the default executor has workers), asyncio.to_thread, executor.submit from a coroutine on
// a pool of 2, and a C++ pool that uses the C API; each reported once, while the tasks still
// wait, naming the task, how it was submitted, the submitting coroutine and what the busy
// workers were doing. The clean twins: a pool sized for the job, and Executor.map's batch.
#include <boost/test/unit_test.hpp>

#include "tests/support/harness.h"

using namespace loopsan::test;
using nlohmann::json;

namespace {

// Well below the victims' 1 s tasks: the last tasks wait about a second.
const char* kOptions = "starvation_threshold_ms=300";

bool python_stack_has(const json& frames, const std::string& function) {
  if (!frames.is_array()) return false;
  for (const json& f : frames) {
    if (f.value("function", "") == function) return true;
  }
  return false;
}

// Runs a starving victim and returns its one finding, after the checks every one shares.
json one_starvation(const std::vector<std::string>& argv) {
  RunResult r = run({.argv = argv, .options = kOptions, .timeout_s = 120});
  BOOST_TEST(r.exit_code == 0, r.describe());
  auto findings = r.findings("pool-starvation");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());  // one per pool and episode
  BOOST_TEST(r.findings().size() == 1u, r.describe());
  const json& f = findings[0];
  BOOST_TEST(f["queue_ms"].get<int>() >= 300, f.dump());
  BOOST_TEST(f["still_waiting"] == true, f.dump());  // reported while it waits
  BOOST_TEST(f["pool"]["busy"] == f["pool"]["workers"], f.dump());
  BOOST_TEST(f["waiting"].get<int>() >= 1, f.dump());
  // Every busy worker, with what it was doing at that moment.
  BOOST_TEST(f["threads"].size() == f["pool"]["busy"].get<size_t>(), f.dump());
  for (const json& t : f["threads"]) BOOST_TEST(t["role"] == "pool", t.dump());
  // The episode's length goes to the summary.
  BOOST_TEST(r.reports.at(0).summary["episodes"].contains(f["id"].get<std::string>()),
             r.describe());
  return f;
}

// A Python finding's busy workers all run `task` (their Python stacks say so).
void workers_run(const json& f, const std::string& task) {
  for (const json& t : f["threads"]) {
    BOOST_TEST(python_stack_has(t["python_stack"], task), t.dump());
    BOOST_TEST(t["task"] == task, t.dump());
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pools)

BOOST_AUTO_TEST_CASE(seed_002_run_in_executor_on_the_default_pool) {
  for (const std::string& py : pythons()) {
    json f = one_starvation({py, python_victim("pool_starved_default.py")});
    BOOST_TEST(f["task"] == "blocking_io", f.dump());
    BOOST_TEST(f["submitted_via"] == "run_in_executor", f.dump());
    BOOST_TEST(f["pool"]["name"] == "asyncio", f.dump());  // the loop's default executor
    BOOST_TEST(f["thread"]["role"] == "loop", f.dump());   // submitted from the loop thread
    // The submitting coroutine, stitched from the submission.
    BOOST_TEST(python_stack_has(f["python_stack"], "run_in_executor"), f.dump());
    BOOST_TEST(python_stack_has(f["python_stack"], "async_wrapper"), f.dump());
    workers_run(f, "blocking_io");
  }
}

BOOST_AUTO_TEST_CASE(to_thread_from_a_coroutine) {
  for (const std::string& py : pythons()) {
    json f = one_starvation({py, python_victim("pool_starved_to_thread.py")});
    BOOST_TEST(f["task"] == "blocking_lookup", f.dump());  // through partial and Context.run
    BOOST_TEST(f["submitted_via"] == "to_thread", f.dump());
    BOOST_TEST(python_stack_has(f["python_stack"], "to_thread"), f.dump());
    BOOST_TEST(python_stack_has(f["python_stack"], "resolve_host"), f.dump());
    for (const json& t : f["threads"]) {
      BOOST_TEST(python_stack_has(t["python_stack"], "blocking_lookup"), t.dump());
    }
  }
}

BOOST_AUTO_TEST_CASE(submit_from_a_coroutine_to_a_small_pool) {
  for (const std::string& py : pythons()) {
    json f = one_starvation({py, python_victim("pool_starved_submit.py")});
    BOOST_TEST(f["task"] == "render_page", f.dump());
    BOOST_TEST(f["submitted_via"] == "submit", f.dump());
    BOOST_TEST(f["pool"]["name"] == "renderer", f.dump());
    BOOST_TEST(f["pool"]["workers"] == 2, f.dump());
    BOOST_TEST(python_stack_has(f["python_stack"], "render_all"), f.dump());
    workers_run(f, "render_page");
  }
}

BOOST_AUTO_TEST_CASE(c_api_pool) {
  json f = one_starvation({victim("pool_victim"), "starved"});
  BOOST_TEST(f["pool"]["name"] == "report-pool", f.dump());
  BOOST_TEST(f["pool"]["workers"] == 2, f.dump());
  BOOST_TEST(f["submitted_via"] == "loopsan_task_queued", f.dump());
  BOOST_TEST(stack_has_function(f["stack"], "submit_report_jobs"), f.dump());
  // The workers are parked in the job's sleep: their stacks name it.
  for (const json& t : f["threads"]) {
    BOOST_TEST(stack_has_function(t["stack"], "slow_report_job"), t.dump());
    BOOST_TEST(t["waiting_in"] == "clock_nanosleep", t.dump());
  }
}

BOOST_AUTO_TEST_CASE(clean_sized_pools_and_map_batches) {
  for (const std::string& py : pythons()) {
    RunResult r = run({.argv = {py, python_victim("pool_sized.py")}, .options = kOptions});
    BOOST_TEST(r.exit_code == 0, r.describe());
    BOOST_TEST(r.findings().empty(), r.describe());
  }
  RunResult r = run({.argv = {victim("pool_victim"), "sized"}, .options = kOptions});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.findings().empty(), r.describe());
}

BOOST_AUTO_TEST_SUITE_END()
