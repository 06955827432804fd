// thread-leak: threads left running at exit. C++ joinable threads never joined or detached
// (the stack of their creation, where they wait now, what for), Python non-daemon threads the
// interpreter waits for at shutdown (the finding is on disk before the process is killed), and
// the clean twins: joined, detached, daemon, ended in time, stopped on request.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include "tests/support/harness.h"

using namespace loopsan::test;
using nlohmann::json;

namespace {

RunResult run_leaks(const std::string& mode) {
  return run({.argv = {victim("leak_victim"), mode}});
}

// The single thread-leak finding of `r`: reported at exit, from the main thread, created at
// `creator` (a frame of its created_stack), with `threads` threads.
json expect_leak(const RunResult& r, const std::string& creator, size_t threads) {
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.out == "main returns\n", r.describe());
  auto findings = r.findings("thread-leak");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  const json& f = findings[0];
  BOOST_TEST(f["at"] == "exit");
  BOOST_TEST(f["thread"]["role"] == "main");
  BOOST_TEST(stack_has_function(f["created_stack"], creator), r.describe());
  BOOST_REQUIRE_MESSAGE(f["threads"].size() == threads, r.describe());
  for (const json& t : f["threads"]) {
    BOOST_TEST(t["tid"] != f["thread"]["tid"]);
    BOOST_TEST(t["state"] == "parked", t.dump());
    BOOST_TEST(t["creator_tid"] == f["thread"]["tid"]);
    // loopsan's own frames (the wrapper a thread waits in, the start trampoline) are left out.
    for (const json& stack : {t["stack"], f["created_stack"]}) {
      for (const json& frame : stack) {
        BOOST_TEST(frame["module"].get<std::string>().find("libloopsan") == std::string::npos,
                   frame.dump());
      }
    }
  }
  // The summary follows: the finding was written before it, at the very end of exit.
  BOOST_TEST(r.reports.at(0).summary["by_kind"]["thread-leak"] == 1);
  return f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(leaks)

BOOST_AUTO_TEST_CASE(pthread_parked_in_read) {
  RunResult r = run_leaks("leaked-read");
  json f = expect_leak(r, "start_reader", 1);
  const json& t = f["threads"][0];
  BOOST_TEST(t["waiting_in"] == "read");
  BOOST_TEST(t["waiting_for"]["kind"] == "descriptor");
  BOOST_TEST(t["waiting_for"]["fd"].get<int>() >= 0);
  BOOST_TEST(t["waiting_for"]["path"].get<std::string>().rfind("pipe:[", 0) == 0u, t.dump());
  BOOST_TEST(stack_has_function(t["stack"], "wait_for_input"), t.dump());
  BOOST_TEST(f["message"].get<std::string>().find("never joined or detached") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(std_thread_parked_in_a_sleep) {
  RunResult r = run_leaks("leaked-sleep");
  json f = expect_leak(r, "start_sleeper", 1);
  const json& t = f["threads"][0];
  BOOST_TEST(t["waiting_in"] == "clock_nanosleep");
  BOOST_TEST(t["waiting_for"]["kind"] == "sleep");
  BOOST_TEST(stack_has_function(t["stack"], "nap_forever"), t.dump());
}

BOOST_AUTO_TEST_CASE(threads_created_at_one_place_are_one_finding) {
  RunResult r = run_leaks("leaked-pool");
  json f = expect_leak(r, "start_pool", 3);
  for (const json& t : f["threads"]) {
    BOOST_TEST(t["waiting_in"] == "futex");
    BOOST_TEST(stack_has_function(t["stack"], "pool_worker"), t.dump());
  }
}

BOOST_AUTO_TEST_CASE(a_thread_waiting_for_a_mutex_names_its_owner) {
  RunResult r = run_leaks("leaked-mutex");
  json f = expect_leak(r, "start_locker", 1);
  const json& t = f["threads"][0];
  BOOST_TEST(t["waiting_for"]["kind"] == "mutex", t.dump());
  // main holds it, and main is the thread that exits
  BOOST_TEST(t["waiting_for"]["owner_tid"] == f["thread"]["tid"], t.dump());
  BOOST_TEST(stack_has_function(t["stack"], "take_the_lock"), t.dump());
}

BOOST_AUTO_TEST_CASE(joined_detached_ended_and_stopped_threads_are_clean) {
  for (const char* mode : {"joined", "detached", "zombie", "stopped-at-exit", "sigterm"}) {
    BOOST_TEST_CONTEXT(mode) {
      RunResult r = run_leaks(mode);
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.findings().empty(), r.describe());
      BOOST_TEST(r.reports.empty(), r.describe());
    }
  }
}

BOOST_AUTO_TEST_CASE(python_non_daemon_thread_left_running) {
  const std::string script = python_victim("thread_leak.py");
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      // The interpreter then waits for the thread for ever: the test kills it once the finding
      // is out, and the report must have it.
      RunResult r = run({.argv = {py, script, "leaked"},
                         .options = "hang_threshold_ms=300",
                         .timeout_s = 60,
                         .kill_when_stderr_has = "thread-leak: "});
      BOOST_TEST(r.term_signal == SIGKILL, r.describe());
      BOOST_TEST(r.out == "main exits\n", r.describe());
      auto findings = r.findings("thread-leak");
      BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
      const json& f = findings[0];
      BOOST_TEST(r.reports.at(0).summary.is_null());  // killed: no summary, the finding stays
      BOOST_TEST(f["at"] == "python-shutdown");
      BOOST_TEST(f["waited_ms"].get<int>() >= 300);
      BOOST_TEST(f["thread"]["role"] == "main");
      BOOST_REQUIRE(f["created_python_stack"].size() >= 2u);
      BOOST_TEST(f["created_python_stack"][0]["function"] == "start_server");
      BOOST_TEST(f["created_python_stack"][0]["line"] == line_of(script, "LEAK-START"));
      BOOST_REQUIRE_MESSAGE(f["threads"].size() == 1u, r.describe());
      const json& t = f["threads"][0];
      BOOST_TEST(t["name"] == "server-worker");
      BOOST_TEST(t["daemon"] == false);
      BOOST_REQUIRE(!t["python_stack"].empty());
      BOOST_TEST(t["python_stack"][0]["function"] == "serve_forever");
      BOOST_TEST(t["python_stack"][0]["line"] == line_of(script, "SERVE-WAIT"));
      // Where it waits, natively (in its sleep, or for the GIL the reporting thread holds):
      // in the interpreter, under the thread's start. On a loaded machine it may be caught on
      // its way between the two, runnable: then it has no native stack.
      if (t["state"] == "parked") {
        BOOST_TEST(stack_has_function(t["stack"], "start_thread"), t.dump());
      } else {
        BOOST_TEST(t["state"] == "running", t.dump());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(python_daemon_and_finished_threads_are_clean) {
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      // The non-daemon thread ends 200 ms after main, well within the threshold.
      RunResult r = run({.argv = {py, python_victim("thread_leak.py"), "clean"},
                         .options = "hang_threshold_ms=1000",
                         .timeout_s = 60});
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.out == "main exits\n", r.describe());
      BOOST_TEST(r.findings().empty(), r.describe());
      BOOST_TEST(r.reports.empty(), r.describe());
    }
  }
}

BOOST_AUTO_TEST_CASE(python_thread_joining_main_is_not_held_up) {
  // The joiner ends only once the interpreter marks main stopped, after the threading atexit
  // callbacks: loopsan's must not wait there (it once did, for the whole threshold, and then
  // reported the joiner as a leak).
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult r = run({.argv = {py, python_victim("thread_leak.py"), "joins-main"},
                         .options = "hang_threshold_ms=2000:report_always=1",
                         .timeout_s = 60});
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.findings().empty(), r.describe());
      // The interpreter's own report (a pyenv shim adds its shell processes' reports).
      const ReportFile* report = nullptr;
      for (const ReportFile& f : r.reports) {
        if (f.start["argv"].dump().find("thread_leak.py") != std::string::npos) report = &f;
      }
      BOOST_REQUIRE_MESSAGE(report != nullptr, r.describe());
      BOOST_TEST(report->summary["duration_ms"].get<int>() < 1500, r.describe());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
