// The three findings about asyncio objects used across threads (seeds 000 and 001):
// cross-thread-call (an asyncio object changed from a thread other than its loop's),
// loop-on-pool-thread (a loop started on a pool worker) and abandoned-future (a
// run_coroutine_threadsafe future whose loop died). Each runs the seed's own program as a
// victim under both Pythons, then the clean program that does the same job the right way.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include "tests/support/harness.h"

using namespace loopsan::test;
using nlohmann::json;

namespace {

bool has_frame(const json& stack, const std::string& function) {
  for (const json& frame : stack) {
    if (frame.value("function", "") == function) return true;
  }
  return false;
}

RunResult run_script(const std::string& py, const std::string& script, const std::string& mode,
                     const std::string& kill = "") {
  return run({.argv = {py, python_victim(script), mode},
              .options = "hang_threshold_ms=60000",
              .timeout_s = 60,
              .kill_when_stderr_has = kill});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(asyncio_threads)

BOOST_AUTO_TEST_CASE(cross_thread_calls_name_the_method_and_the_thread_safe_way) {
  struct Case {
    const char* mode;
    const char* call;
    const char* alternative;
  };
  const Case cases[] = {
      {"queue", "Queue.put_nowait", "loop.call_soon_threadsafe(queue.put_nowait, ...)"},
      {"future", "Future.set_result", "loop.call_soon_threadsafe(future.set_result, ...)"},
      {"call_soon", "loop.call_soon", "loop.call_soon_threadsafe(loop.call_soon, ...)"},
      {"call_later", "loop.call_later",
       "loop.call_soon_threadsafe(loop.call_later, delay, callback)"},
      {"create_task", "loop.create_task", "asyncio.run_coroutine_threadsafe(coro, loop)"},
      {"event", "Event.set", "loop.call_soon_threadsafe(event.set, ...)"},
  };
  for (const std::string& py : pythons()) {
    for (const Case& c : cases) {
      BOOST_TEST_CONTEXT(py << " " << c.mode) {
        RunResult r = run_script(py, "cross_thread.py", c.mode);
        BOOST_TEST(r.exit_code == 0, r.describe());
        auto findings = r.findings("cross-thread-call");
        BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
        BOOST_TEST(r.findings().size() == 1u, r.describe());
        const json& f = findings[0];
        BOOST_TEST(f["call"] == c.call, f.dump());
        BOOST_TEST(f["alternative"] == c.alternative, f.dump());
        // Reported on the foreign thread, naming the loop's.
        BOOST_TEST(f["thread"]["tid"] != f["loop_thread"]["tid"], f.dump());
        BOOST_TEST(f["loop_thread"]["tid"].get<long>() > 0, f.dump());
        BOOST_TEST(has_frame(f["python_stack"], "thread_worker"), f.dump());
        BOOST_TEST(f["message"].get<std::string>().find(c.alternative) != std::string::npos);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(cross_thread_calls_on_uvloop) {
  // Debian's python3-uvloop, for Debian's Python. Its Loop's methods are C (Cython): the
  // checks wrap them on uvloop.Loop, the Python subclass every uvloop loop is.
  const std::string py = system_python();
  for (const char* mode : {"queue", "future", "call_later", "create_task", "event", "clean"}) {
    BOOST_TEST_CONTEXT(mode) {
      RunResult r = run({.argv = {py, python_victim("cross_thread.py"), mode, "uvloop"},
                         .options = "hang_threshold_ms=60000",
                         .timeout_s = 60});
      BOOST_TEST(r.exit_code == 0, r.describe());
      auto findings = r.findings("cross-thread-call");
      BOOST_TEST(r.findings().size() == findings.size(), r.describe());
      if (std::string(mode) == "clean") {
        BOOST_TEST(findings.empty(), r.describe());
        continue;
      }
      BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
      BOOST_TEST(has_frame(findings[0]["python_stack"], "thread_worker"), findings[0].dump());
    }
  }
}

BOOST_AUTO_TEST_CASE(uvloop_programs_get_the_pool_gil_and_abandoned_future_findings_too) {
  // The same victims as the pools, gil and abandoned-future tests, run with uvloop's policy.
  const std::string py = system_python();
  auto under_uvloop = [&](std::vector<std::string> args, const std::string& options) {
    std::vector<std::string> argv = {py, python_victim("with_uvloop.py")};
    argv.insert(argv.end(), args.begin(), args.end());
    return run({.argv = argv, .options = options, .timeout_s = 120});
  };
  RunResult starved =
      under_uvloop({python_victim("pool_starved_default.py")}, "starvation_threshold_ms=300");
  BOOST_TEST(starved.exit_code == 0, starved.describe());
  auto pool = starved.findings("pool-starvation");
  BOOST_REQUIRE_MESSAGE(pool.size() == 1u, starved.describe());
  BOOST_TEST(pool[0]["task"] == "blocking_io", pool[0].dump());
  BOOST_TEST(has_frame(pool[0]["python_stack"], "async_wrapper"), pool[0].dump());

  RunResult gil = under_uvloop({python_victim("gil_pool.py"), "executor"}, "");
  BOOST_TEST(gil.exit_code == 0, gil.describe());
  auto contention = gil.findings("gil-contention");
  BOOST_REQUIRE_MESSAGE(contention.size() == 1u, gil.describe());
  BOOST_TEST(contention[0]["pool"]["name"].get<std::string>().rfind("crunch", 0) == 0u,
             contention[0].dump());
  BOOST_TEST(has_frame(contention[0]["python_stack"], "cpu_bound"), contention[0].dump());

  RunResult closed =
      under_uvloop({python_victim("abandoned_future.py"), "closed"}, "hang_threshold_ms=60000");
  BOOST_TEST(closed.exit_code == 0, closed.describe());
  auto abandoned = closed.findings("abandoned-future");
  BOOST_REQUIRE_MESSAGE(abandoned.size() == 1u, closed.describe());
  BOOST_TEST(has_frame(abandoned[0]["created_python_stack"], "main"), abandoned[0].dump());
}

BOOST_AUTO_TEST_CASE(thread_safe_apis_give_no_cross_thread_finding) {
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult r = run_script(py, "cross_thread.py", "clean");
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.out.find("done clean") != std::string::npos, r.describe());
      BOOST_TEST(r.findings().empty(), r.describe());
    }
  }
}

BOOST_AUTO_TEST_CASE(asyncio_run_in_pool_workers_names_the_pool) {
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult r = run_script(py, "loop_on_pool.py", "pool");
      BOOST_TEST(r.exit_code == 0, r.describe());
      auto findings = r.findings("loop-on-pool-thread");
      // One finding (its id is where the loop starts); the five starts are its repeats.
      BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
      BOOST_TEST(r.findings().size() == 1u, r.describe());
      const json& f = findings[0];
      BOOST_TEST(f["pool"]["name"] == "requests", f.dump());
      BOOST_TEST(f["pool"]["workers"] == 2, f.dump());
      BOOST_TEST(f["pool"]["loops_started"] == 1, f.dump());
      BOOST_TEST(f["thread"]["role"] != "main", f.dump());
      BOOST_TEST(has_frame(f["python_stack"], "handle_request"), f.dump());
      const json& summary = r.reports.at(0).summary;
      BOOST_TEST(summary["repeats"].value(f["id"].get<std::string>(), 0) == 4, summary.dump());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_thread_that_runs_loop_after_loop_is_a_pool) {
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult r = run_script(py, "loop_on_pool.py", "reused");
      BOOST_TEST(r.exit_code == 0, r.describe());
      auto findings = r.findings("loop-on-pool-thread");
      BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
      const json& f = findings[0];
      BOOST_TEST(f["message"].get<std::string>().find("'job-worker'") != std::string::npos,
                 f.dump());
      BOOST_TEST(f["thread_loops"] == 2, f.dump());
      BOOST_TEST(!f.contains("pool"), f.dump());
      BOOST_TEST(has_frame(f["python_stack"], "job_worker"), f.dump());
    }
  }
}

BOOST_AUTO_TEST_CASE(dedicated_loop_thread_and_main_thread_runs_are_clean) {
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult r = run_script(py, "loop_on_pool.py", "clean");
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.findings().empty(), r.describe());
    }
  }
}

BOOST_AUTO_TEST_CASE(seed_001_systemexit_abandons_the_future_and_the_report_survives_a_kill) {
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult r = run_script(py, "abandoned_future.py", "systemexit", "abandoned-future: ");
      // main() waits in future.result() for ever: the test killed it after the finding.
      BOOST_TEST(r.term_signal == SIGKILL, r.describe());
      BOOST_REQUIRE_MESSAGE(!r.reports.empty(), r.describe());
      BOOST_TEST(r.reports.at(0).summary.is_null(), r.describe());
      auto findings = r.findings("abandoned-future");
      BOOST_REQUIRE_MESSAGE(findings.size() >= 1u, r.describe());
      const json& f = findings[0];
      BOOST_TEST(f["exception"]["type"] == "SystemExit", f.dump());
      BOOST_TEST(f["coroutine"] == "f", f.dump());
      BOOST_TEST(f["waiting"] == false, f.dump());
      BOOST_TEST(f["futures"] == 1, f.dump());
      BOOST_REQUIRE(!f["throw_python_stack"].empty());
      BOOST_TEST(f["throw_python_stack"][0]["function"] == "f", f.dump());
      BOOST_TEST(has_frame(f["created_python_stack"], "main"), f.dump());
      // Reported on the loop's thread as it dies, or, when it died before
      // run_coroutine_threadsafe() had remembered the future, by the submitter right after.
      BOOST_TEST((has_frame(f["python_stack"], "start_loop") ||
                  (f["thread"]["role"] == "main" && has_frame(f["python_stack"], "main"))),
                 f.dump());
      BOOST_TEST(f["created_python_stack"][0]["function"] == "main", f.dump());
    }
  }
}

// What the detector keeps of a loop an exception ended must not keep the loop: the exception's
// traceback holds run_forever's frame, and so the loop (test_asyncio ran 23% slower, its
// garbage collector walking every loop of the run).
BOOST_AUTO_TEST_CASE(a_loop_an_exception_ended_is_still_garbage) {
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult r = run_script(py, "abandoned_future.py", "collected");
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.out == "collected\n", r.describe());
      BOOST_TEST(r.findings().empty(), r.describe());
    }
  }
}

BOOST_AUTO_TEST_CASE(waiting_without_timeout_on_an_abandoned_future_is_reported_again) {
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult r = run_script(py, "abandoned_future.py", "timeout", "waits without a timeout");
      BOOST_TEST(r.term_signal == SIGKILL, r.describe());
      BOOST_TEST(r.out.find("Timeout") != std::string::npos, r.describe());
      auto findings = r.findings("abandoned-future");
      BOOST_REQUIRE_MESSAGE(findings.size() == 2u, r.describe());
      const json& ended = findings[0];
      const json& waiting = findings[1];
      BOOST_TEST(ended["exception"]["type"] == "KeyboardInterrupt", ended.dump());
      // main, in result(timeout=0.5); none when the submitter itself found the loop dead.
      BOOST_TEST(ended["waiters"].get<int>() <= 1, ended.dump());
      BOOST_TEST(waiting["waiting"] == true, waiting.dump());
      BOOST_TEST(waiting["thread"]["role"] == "main", waiting.dump());
      BOOST_TEST(waiting["exception"]["type"] == "KeyboardInterrupt", waiting.dump());
      BOOST_REQUIRE(!waiting["python_stack"].empty());
      BOOST_TEST(has_frame(waiting["python_stack"], "main"), waiting.dump());
      BOOST_TEST(has_frame(waiting["python_stack"], "exception"), waiting.dump());
    }
  }
}

BOOST_AUTO_TEST_CASE(closing_a_loop_with_a_pending_future_abandons_it) {
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult r = run_script(py, "abandoned_future.py", "closed");
      BOOST_TEST(r.exit_code == 0, r.describe());
      auto findings = r.findings("abandoned-future");
      BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
      const json& f = findings[0];
      BOOST_TEST(!f.contains("exception"), f.dump());
      BOOST_TEST(f["message"].get<std::string>().find("its loop was closed") != std::string::npos,
                 f.dump());
      BOOST_TEST(has_frame(f["created_python_stack"], "main"), f.dump());
    }
  }
}

BOOST_AUTO_TEST_CASE(seed_001_with_an_ordinary_exception_is_clean) {
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult r = run_script(py, "abandoned_future.py", "clean");
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.out.find("Caught exception: ValueError()") != std::string::npos, r.describe());
      BOOST_TEST(r.findings().empty(), r.describe());
    }
  }
}

BOOST_AUTO_TEST_CASE(checked_methods_leave_the_program_as_it_was) {
  // No-argument calls from C, introspection, pickling, a loop stopped inside an except block
  // and run again: all as without loopsan, and no finding.
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult r = run({.argv = {py, python_victim("asyncio_checked_clean.py")},
                         .options = "hang_threshold_ms=60000",
                         .timeout_s = 60});
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.out.find("ok") != std::string::npos, r.describe());
      BOOST_TEST(r.findings().empty(), r.describe());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
