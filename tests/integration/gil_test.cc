// gil-contention (detectors/gil_contention.h): CPU-bound Python code in a thread pool, reported
// while it runs, with the function's Python stack and the advice; and the clean twins that must
// stay clean on a loaded machine: the same work in processes or in a single worker, and pools
// that sleep or talk over sockets. tests/victims/python/gil_pool.py runs each for about 2 s,
// under both CPython 3.11 builds (pyenv's, with symbols, and Debian's, stripped).
#include <boost/test/unit_test.hpp>

#include "tests/support/harness.h"

using namespace loopsan::test;
using nlohmann::json;

namespace {

bool runs_victim(const ReportFile& rep) {
  if (rep.start["exe"].get<std::string>().find("python") == std::string::npos) return false;
  for (const json& arg : rep.start["argv"]) {
    if (arg.get<std::string>().find("gil_pool.py") != std::string::npos) return true;
  }
  return false;
}

// The victim's own report: not pyenv's shim scripts', nor a process pool's forked workers'.
const ReportFile& victim_report(const RunResult& r) {
  for (const ReportFile& rep : r.reports) {
    if (!runs_victim(rep)) continue;
    bool forked = false;
    for (const ReportFile& parent : r.reports) {
      forked = forked || (runs_victim(parent) && parent.start["pid"] == rep.start["ppid"]);
    }
    if (!forked) return rep;
  }
  BOOST_FAIL("no report of the victim itself: " + r.describe());
  return r.reports.at(0);
}

RunResult run_mode(const std::string& py, const std::string& mode) {
  // report_always: the clean twins' start lines say whether the GIL was measured.
  RunResult r = run({.argv = {py, python_victim("gil_pool.py"), mode},
                     .options = "report_always=1",
                     .timeout_s = 120});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.out == "done\n", r.describe());
  BOOST_TEST(victim_report(r).start["hooks"]["cpython.gil_waits"] == true, r.describe());
  return r;
}

// The one finding of a contended pool of `workers` named `name` (a prefix of it).
void expect_contention(const RunResult& r, const std::string& name, int workers) {
  auto findings = r.findings("gil-contention");
  // One per pool per episode: the pool is contended from its first task to its last.
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  const json& f = findings[0];
  std::string script = python_victim("gil_pool.py");
  BOOST_TEST(f["pool"]["name"].get<std::string>().rfind(name, 0) == 0u, f.dump());
  BOOST_TEST(f["pool"]["workers"] == workers);
  BOOST_TEST(f["pool"]["busy"].get<int>() >= 2);
  BOOST_TEST(f["gil_wait_ratio"].get<double>() >= 0.3);
  BOOST_TEST(f["gil_wait_ratio"].get<double>() <= 1.0);
  BOOST_TEST(f["duration_ms"].get<int>() >= 200);
  BOOST_TEST(f["task"] == "cpu_bound");
  BOOST_TEST(f["advice"] == "ProcessPoolExecutor");
  BOOST_TEST(f["message"].get<std::string>().find("ProcessPoolExecutor") != std::string::npos);
  BOOST_TEST(f["thread"]["role"] == "pool");
  // The CPU-bound function, innermost, in its two-line loop.
  BOOST_REQUIRE_MESSAGE(!f["python_stack"].empty(), f.dump());
  const json& top = f["python_stack"][0];
  BOOST_TEST(top["function"] == "cpu_bound");
  BOOST_TEST(top["file"] == script);
  int line = line_of(script, "CPU-BOUND-HERE");
  BOOST_TEST((top["line"] == line || top["line"] == line + 1), top.dump());
  // Every contending worker, with its own figures and stack.
  BOOST_REQUIRE(f["threads"].size() >= 2u);
  for (const json& t : f["threads"]) {
    BOOST_TEST(t["role"] == "pool");
    BOOST_TEST(t["gil_wait_ratio"].get<double>() > 0);
    BOOST_TEST(t["cpu_ms"].get<int>() > 0);
    BOOST_TEST(t["python_stack"][0]["function"] == "cpu_bound", t.dump());
  }
  // Reported while it happens: the work goes on for about 2 s after the report.
  const json& summary = victim_report(r).summary;
  BOOST_TEST(f["time_ms"].get<int64_t>() + 500 < summary["duration_ms"].get<int64_t>(),
             r.describe());
}

void expect_clean(const std::string& mode) {
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult r = run_mode(py, mode);
      BOOST_TEST(r.findings().empty(), r.describe());
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gil)

BOOST_AUTO_TEST_CASE(cpu_bound_work_in_a_thread_pool_is_reported_with_its_function) {
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      expect_contention(run_mode(py, "threads"), "ThreadPoolExecutor-", 4);
    }
  }
}

BOOST_AUTO_TEST_CASE(run_in_executor_on_a_named_pool_of_two_is_reported) {
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      expect_contention(run_mode(py, "executor"), "crunch", 2);
    }
  }
}

BOOST_AUTO_TEST_CASE(the_same_work_in_a_process_pool_is_clean) {
  expect_clean("processes");
}

BOOST_AUTO_TEST_CASE(a_single_cpu_bound_worker_is_clean) {
  expect_clean("single");
}

BOOST_AUTO_TEST_CASE(a_pool_that_sleeps_is_clean) {
  expect_clean("sleep");
}

BOOST_AUTO_TEST_CASE(a_pool_doing_socket_io_is_clean) {
  expect_clean("socket");
}

BOOST_AUTO_TEST_SUITE_END()
