// Blocking calls on event-loop threads: Python asyncio and a C++ epoll loop.
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include "tests/support/harness.h"

using namespace loopsan::test;

BOOST_AUTO_TEST_SUITE(blocking)

BOOST_AUTO_TEST_CASE(coroutine_time_sleep_names_the_coroutine_and_line) {
  std::string script = python_victim("sleep_in_coroutine.py");
  int line = line_of(script, "BLOCKING-CALL-HERE");
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult r = run({.argv = {py, script}});
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.out == "done\n");
      auto findings = r.findings("blocking-call");
      BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
      const auto& f = findings[0];
      BOOST_TEST(f["call"] == "clock_nanosleep");
      BOOST_TEST(f["thread"]["role"] == "loop");
      BOOST_TEST(f["duration_ms"].get<int>() >= 40);
      BOOST_REQUIRE(!f["python_stack"].empty());
      BOOST_TEST(f["python_stack"][0]["function"] == "slow_handler");
      BOOST_TEST(f["python_stack"][0]["file"] == script);
      BOOST_TEST(f["python_stack"][0]["line"] == line);
      // The interpreter's frames are named (Debian's python3 is stripped: exported names only).
      BOOST_TEST(stack_has_function(f["stack"], "_PyEval_EvalFrameDefault"), r.describe());
      // The start line and the file name: loopsan.<exe>.<pid>.jsonl.
      BOOST_REQUIRE(r.reports.size() == 1u);
      const auto& rep = r.reports[0];
      BOOST_TEST(rep.start["schema"] == 1);
      BOOST_TEST(rep.start["hooks"]["clock_nanosleep"] == true);
      BOOST_TEST(rep.path.find("/loopsan.python3") != std::string::npos);
      BOOST_TEST(rep.path.find("." + rep.start["pid"].dump() + ".jsonl") != std::string::npos);
      BOOST_TEST(rep.summary["findings"] == 1);
      BOOST_TEST(rep.summary["exit"]["how"] == "exit");
      struct stat st {};
      BOOST_REQUIRE(stat(rep.path.c_str(), &st) == 0);
      BOOST_TEST((st.st_mode & 0777) == 0600u, "the report is private to its owner");
      BOOST_TEST(rep.summary["exit"]["status"] == 0);
      // One stderr line per finding and a summary line.
      BOOST_TEST(r.err.find("blocking-call: clock_nanosleep") != std::string::npos, r.err);
      BOOST_TEST(r.err.find("SUMMARY: 1 finding") != std::string::npos, r.err);
    }
  }
}

BOOST_AUTO_TEST_CASE(fsync_in_a_loop_callback_is_reported_and_off_the_loop_is_not) {
  std::string file = make_temp_dir() + "/state";
  RunResult r = run({.argv = {victim("loop_victim"), "fsync-in-loop", file}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  auto findings = r.findings("blocking-call");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  BOOST_TEST(findings[0]["call"] == "fsync");
  BOOST_TEST(findings[0]["thread"]["role"] == "loop");
  BOOST_TEST(stack_has_function(findings[0]["stack"], "on_tick_saves_state"), r.describe());
  BOOST_TEST(r.reports[0].start["hooks"]["fsync"] == true);
}

BOOST_AUTO_TEST_CASE(sleeping_off_the_loop_is_not_a_finding) {
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult r = run({.argv = {py, python_victim("sleep_off_loop.py")}});
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.findings().empty(), r.describe());
      // No finding: no report file at all, and nothing on stderr.
      BOOST_TEST(r.reports.empty(), r.describe());
      BOOST_TEST(r.err.empty(), r.err);
    }
  }
}

BOOST_AUTO_TEST_CASE(each_asyncio_run_in_a_worker_thread_is_its_own_loop) {
  std::string script = python_victim("loop_in_thread.py");
  RunResult r = run({.argv = {python(), script}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  auto findings = r.findings("blocking-call");
  BOOST_REQUIRE_MESSAGE(findings.size() == 2u, r.describe());
  BOOST_TEST(findings[0]["python_stack"][0]["function"] == "first_blocker");
  BOOST_TEST(findings[0]["python_stack"][0]["line"] == line_of(script, "FIRST-BLOCK"));
  BOOST_TEST(findings[1]["python_stack"][0]["function"] == "second_blocker");
  BOOST_TEST(findings[1]["python_stack"][0]["line"] == line_of(script, "SECOND-BLOCK"));
  BOOST_TEST(findings[0]["thread"]["role"] == "loop");
  BOOST_TEST(findings[0]["thread"]["tid"] != r.reports[0].start["pid"]);
}

BOOST_AUTO_TEST_CASE(an_asyncio_loop_that_is_not_running_is_no_loop) {
  std::string script = python_victim("loop_not_closed.py");
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult r = run({.argv = {py, script}});
      BOOST_TEST(r.exit_code == 0, r.describe());
      auto findings = r.findings("blocking-call");
      BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
      BOOST_TEST(findings[0]["python_stack"][0]["line"] == line_of(script, "BLOCK-IN-RUN"));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_vforked_child_closing_descriptors_does_not_end_the_loop) {
  std::string script = python_victim("subprocess_then_block.py");
  RunResult r = run({.argv = {python(), script}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  auto findings = r.findings("blocking-call");
  BOOST_REQUIRE_MESSAGE(findings.size() == 2u, r.describe());
  // subprocess.run() waits for its child on the loop, then the sleep: both on the loop.
  BOOST_TEST(findings[0]["call"] == "waitpid");
  bool at_the_run = false;
  for (const auto& frame : findings[0]["python_stack"]) {
    at_the_run |= frame["file"] == script && frame["line"] == line_of(script, "BLOCK-IN-WAIT");
  }
  BOOST_TEST(at_the_run, r.describe());
  BOOST_TEST(findings[1]["python_stack"][0]["line"] == line_of(script, "BLOCK-AFTER-SPAWN"));
}

BOOST_AUTO_TEST_CASE(python_stacks_during_interpreter_shutdown_are_safe) {
  // A daemon loop thread blocks thousands of times a second while the main thread exits:
  // stacks taken on it around finalization must not crash or hang the process.
  std::string script = python_victim("daemon_loop_at_exit.py");
  for (const std::string& py : pythons()) {
    for (int i = 0; i < 5; ++i) {
      BOOST_TEST_CONTEXT(py << " run " << i) {
        RunResult r = run({.argv = {py, script}, .options = "log_to_stderr=0", .timeout_s = 60});
        BOOST_TEST(r.exit_code == 0, r.describe());
        BOOST_TEST(r.out == "main exits\n");
        BOOST_REQUIRE(r.reports.size() == 1u);
        BOOST_TEST(r.reports[0].summary["exit"]["how"] == "exit");
        auto findings = r.findings("blocking-call");
        BOOST_REQUIRE(!findings.empty());
        BOOST_TEST(findings[0]["python_stack"][0]["line"] == line_of(script, "DAEMON-BLOCK"));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_signal_handler_left_by_siglongjmp_ends_the_handler) {
  // The host's SIGINT handler jumps out (loopsan's trampoline never sees it return): the
  // thread is no longer counted as in a handler, and the loop's sleep is still found.
  RunResult r = run({.argv = {victim("loop_victim"), "sleep-after-longjmp"}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  auto findings = r.findings("blocking-call");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  BOOST_TEST(stack_has_function(findings[0]["stack"], "on_tick_sleeps"), r.describe());
}

BOOST_AUTO_TEST_CASE(cpp_epoll_loop_sleep_names_the_calling_function) {
  RunResult r = run({.argv = {victim("loop_victim"), "sleep-in-loop"}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  auto findings = r.findings("blocking-call");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  const auto& f = findings[0];
  BOOST_TEST(f["call"] == "nanosleep");
  BOOST_TEST(f["thread"]["role"] == "loop");
  BOOST_TEST(f["python_stack"].empty());
  // std::this_thread::sleep_for -> libstdc++ -> nanosleep: the victim's function is named.
  BOOST_TEST(stack_has_function(f["stack"], "on_tick_sleeps"), r.describe());
  BOOST_TEST(f["stack"][0]["module"].get<std::string>().find("libloopsan") == std::string::npos);
  for (const auto& frame : f["stack"]) {
    BOOST_TEST(frame.contains("module"));
    BOOST_TEST(frame["offset"].get<std::string>().rfind("0x", 0) == 0u);
  }
  // Three occurrences of one bug: one finding, two repeats in the summary.
  const auto& summary = r.reports.at(0).summary;
  BOOST_TEST(summary["repeats"][f["id"].get<std::string>()] == 2);
}

BOOST_AUTO_TEST_CASE(cpp_sleep_after_loop_closed_or_on_worker_is_clean) {
  RunResult r = run({.argv = {victim("loop_victim"), "clean"}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.findings().empty(), r.describe());
  BOOST_TEST(r.reports.empty(), r.describe());
}

BOOST_AUTO_TEST_CASE(finding_ids_are_stable_across_runs) {
  RunResult a = run({.argv = {victim("loop_victim"), "sleep-in-loop"}});
  RunResult b = run({.argv = {victim("loop_victim"), "sleep-in-loop"}});
  BOOST_REQUIRE(a.findings().size() == 1u);
  BOOST_REQUIRE(b.findings().size() == 1u);
  BOOST_TEST(a.findings()[0]["id"] == b.findings()[0]["id"]);
}

BOOST_AUTO_TEST_CASE(c_api_marks_loops_and_allows_blocking) {
  RunResult r = run({.argv = {victim("capi_victim"), "marked-loop"}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.out.find("active=1") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("findings=1") != std::string::npos, r.out);
  auto findings = r.findings("blocking-call");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  BOOST_TEST(stack_has_function(findings[0]["stack"], "marked_loop_sleeps"), r.describe());
  BOOST_TEST(!stack_has_function(findings[0]["stack"], "allowed_sleep"));

  RunResult without = run({.argv = {victim("capi_victim"), "marked-loop"}, .preload = false});
  BOOST_TEST(without.exit_code == 0, without.describe());
  BOOST_TEST(without.out.find("active=0") != std::string::npos);
  BOOST_TEST(without.out.find("findings=0") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(loop_threads_option_marks_threads_by_name) {
  RunResult named =
      run({.argv = {victim("capi_victim"), "named-loop"}, .options = "loop_threads=net-*|io-*"});
  auto findings = named.findings("blocking-call");
  // Two threads, named through pthread_setname_np and through prctl(PR_SET_NAME).
  BOOST_REQUIRE_MESSAGE(findings.size() == 2u, named.describe());
  BOOST_TEST(findings[0]["thread"]["name"] == "net-io");
  BOOST_TEST(findings[1]["thread"]["name"] == "io-poller");
  for (const auto& f : findings) {
    BOOST_TEST(f["thread"]["role"] == "loop");
    BOOST_TEST(stack_has_function(f["stack"], "marked_loop_sleeps"));
  }

  RunResult unnamed = run({.argv = {victim("capi_victim"), "named-loop"}});
  BOOST_TEST(unnamed.findings().empty(), unnamed.describe());
}

BOOST_AUTO_TEST_SUITE_END()
