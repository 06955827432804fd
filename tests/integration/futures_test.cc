// Exceptions lost in futures (C++ std::future family, custom futures, Python
// concurrent.futures and asyncio) and exceptions that escape threads.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include "tests/support/harness.h"

using namespace loopsan::test;
using nlohmann::json;

namespace {

RunResult run_futures(const std::string& mode, const std::string& options = "") {
  return run({.argv = {victim("futures_victim"), mode}, .options = options});
}

// The single unretrieved-exception of `r`, with its kind, type, message and throw site checked.
json expect_lost(const RunResult& r, const std::string& type, const std::string& what,
                 const std::string& thrower) {
  auto findings = r.findings("unretrieved-exception");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  const json& f = findings[0];
  BOOST_TEST(f["exception"]["type"] == type, r.describe());
  BOOST_TEST(f["exception"]["what"] == what);
  BOOST_TEST(stack_has_function(f["throw_stack"], thrower), r.describe());
  BOOST_TEST(f["throw_stack"][0]["function"].get<std::string>().find(thrower) != std::string::npos,
             "the throw stack starts at the throwing function: " << f["throw_stack"][0]);
  return f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(futures)

BOOST_AUTO_TEST_CASE(std_async_future_dropped) {
  RunResult r = run_futures("async-dropped");
  BOOST_TEST(r.exit_code == 0, r.describe());
  json f = expect_lost(r, "std::runtime_error", "answer unavailable", "compute_answer");
  BOOST_TEST(f["at_exit"] == false);
  // Thrown on the async thread, dropped on the main thread.
  BOOST_TEST(f["throw_tid"] != f["thread"]["tid"]);
  BOOST_TEST(f["thread"]["role"] == "main");
  BOOST_TEST(stack_has_function(f["stack"], "main"));
}

BOOST_AUTO_TEST_CASE(deferred_future_waited_but_never_read) {
  RunResult r = run_futures("deferred-waited");
  expect_lost(r, "std::out_of_range", "deferred failed", "deferred_failure");
}

BOOST_AUTO_TEST_CASE(promise_set_exception_then_dropped) {
  RunResult r = run_futures("promise-dropped");
  expect_lost(r, "std::invalid_argument", "negative input", "validate_input");
}

BOOST_AUTO_TEST_CASE(make_exception_ptr_counts_as_the_throw_site) {
  RunResult r = run_futures("promise-made");
  expect_lost(r, "std::domain_error", "made, not thrown", "make_failure");
}

BOOST_AUTO_TEST_CASE(packaged_task_run_on_another_thread) {
  RunResult r = run_futures("packaged-task-thread");
  expect_lost(r, "std::length_error", "config too long", "parse_config");
}

BOOST_AUTO_TEST_CASE(exception_not_derived_from_std_exception) {
  RunResult r = run_futures("not-std-exception");
  json f = expect_lost(r, "(anonymous namespace)::NotStd", "", "throws_not_std");
}

BOOST_AUTO_TEST_CASE(future_still_alive_at_exit) {
  RunResult r = run_futures("alive-at-exit");
  BOOST_TEST(r.exit_code == 0, r.describe());
  json f = expect_lost(r, "std::overflow_error", "kept until exit", "kept_failure");
  BOOST_TEST(f["at_exit"] == true);
  BOOST_TEST(f["message"].get<std::string>().find("alive at exit") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(retrieved_values_caught_and_cancelled_are_clean) {
  RunResult r = run_futures("clean");
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.out == "retrieved 4\n", r.describe());
  BOOST_TEST(r.findings().empty(), r.describe());
  BOOST_TEST(r.reports.empty(), r.describe());
}

BOOST_AUTO_TEST_CASE(exception_escaping_a_thread_is_reported_and_still_aborts) {
  RunResult r = run_futures("uncaught-thread");
  BOOST_TEST(r.term_signal == SIGABRT, r.describe());
  // libstdc++'s own message is still printed: the host's terminate handler ran.
  BOOST_TEST(r.err.find("terminate called after throwing an instance of 'std::logic_error'") !=
                 std::string::npos,
             r.err);
  auto findings = r.findings("uncaught-exception");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  const json& f = findings[0];
  BOOST_TEST(f["exception"]["type"] == "std::logic_error");
  BOOST_TEST(f["exception"]["what"] == "worker gave up");
  BOOST_TEST(f["throw_stack"][0]["function"].get<std::string>().find("worker_body") !=
             std::string::npos);
  BOOST_TEST(f["thread"]["role"] == "other");
  BOOST_TEST(r.reports.at(0).summary["exit"]["how"] == "abort");
}

BOOST_AUTO_TEST_CASE(exception_escaping_main) {
  RunResult r = run_futures("uncaught-main");
  BOOST_TEST(r.term_signal == SIGABRT, r.describe());
  auto findings = r.findings("uncaught-exception");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  BOOST_TEST(findings[0]["thread"]["role"] == "main");
  BOOST_TEST(stack_has_function(findings[0]["throw_stack"], "compute_answer"));
}

BOOST_AUTO_TEST_CASE(host_terminate_handler_still_runs_and_is_what_get_terminate_returns) {
  RunResult r = run_futures("uncaught-host-handler");
  BOOST_TEST(r.term_signal == SIGABRT, r.describe());
  BOOST_TEST(r.err.find("host terminate handler ran") != std::string::npos, r.err);
  BOOST_TEST(r.findings("uncaught-exception").size() == 1u, r.describe());
}

BOOST_AUTO_TEST_CASE(custom_future_through_the_c_api) {
  RunResult r = run_futures("custom-future");
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.out == "error: remote fetch failed\n");
  auto findings = r.findings("unretrieved-exception");
  BOOST_REQUIRE_MESSAGE(findings.size() == 2u, r.describe());
  for (const auto& f : findings) {
    BOOST_TEST(f["exception"]["type"] == "CustomError");
    BOOST_TEST(f["exception"]["what"] == "remote fetch failed");
    // Called from a catch block: the throw stack is the exception's, not the caller's.
    BOOST_TEST(f["throw_stack"][0]["function"].get<std::string>().find("fetch_remote") !=
               std::string::npos);
  }
  BOOST_TEST(findings[0]["at_exit"] == false);
  BOOST_TEST(findings[1]["at_exit"] == true);
}

BOOST_AUTO_TEST_CASE(sigkill_keeps_the_streamed_finding) {
  RunResult r = run_futures("sigkill");
  BOOST_TEST(r.term_signal == SIGKILL, r.describe());
  BOOST_REQUIRE(r.reports.size() == 1u);
  BOOST_TEST(r.reports[0].findings.size() == 1u, r.describe());
  BOOST_TEST(r.reports[0].summary.is_null());
}

BOOST_AUTO_TEST_CASE(captured_exceptions_do_not_leak_records) {
  RunResult r = run_futures("no-leak");
  BOOST_TEST(r.exit_code == 0, r.describe());
  // 200,000 captured and 200,000 made exceptions: a record kept per exception would be
  // tens of megabytes.
  size_t growth = std::stoul(r.out.substr(r.out.find("heap growth ") + 12));
  BOOST_TEST(growth < 1024u * 1024u, r.out);
}

BOOST_AUTO_TEST_CASE(python_dropped_future_names_the_raising_function) {
  std::string script = python_victim("futures_lost.py");
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult r = run({.argv = {py, script, "submit"}});
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.out == "done\n");
      auto findings = r.findings("unretrieved-exception");
      BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
      const json& f = findings[0];
      BOOST_TEST(f["exception"]["type"] == "ValueError");
      BOOST_TEST(f["exception"]["what"] == "This exception is LOST!");
      BOOST_TEST(f["origin"] == "concurrent.futures");
      BOOST_REQUIRE(!f["throw_python_stack"].empty());
      BOOST_TEST(f["throw_python_stack"][0]["function"] == "buggy_task");
      BOOST_TEST(f["throw_python_stack"][0]["file"] == script);
      BOOST_TEST(f["throw_python_stack"][0]["line"] == line_of(script, "RAISE-SUBMIT"));
      BOOST_TEST(r.reports[0].start["hooks"]["cpython.futures"] == true);
    }
  }
}

BOOST_AUTO_TEST_CASE(python_debug_allocators_and_dev_mode) {
  // -X dev and PYTHONMALLOC=debug change CPython's allocators during start-up: nothing
  // loopsan hands CPython may be allocated before that (the process crashed at exit).
  std::string script = python_victim("futures_lost.py");
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult dev = run({.argv = {py, "-X", "dev", script, "submit"}});
      BOOST_TEST(dev.exit_code == 0, dev.describe());
      BOOST_TEST(dev.findings("unretrieved-exception").size() == 1u, dev.describe());
      RunResult debug = run({.argv = {py, script, "submit"}, .env = {{"PYTHONMALLOC", "debug"}}});
      BOOST_TEST(debug.exit_code == 0, debug.describe());
      BOOST_TEST(debug.findings("unretrieved-exception").size() == 1u, debug.describe());
    }
  }
}

BOOST_AUTO_TEST_CASE(python_map_never_iterated_and_wait_never_read) {
  std::string script = python_victim("futures_lost.py");
  RunResult map = run({.argv = {python(), script, "map"}});
  auto lost = map.findings("unretrieved-exception");
  BOOST_REQUIRE_MESSAGE(lost.size() == 1u, map.describe());
  BOOST_TEST(lost[0]["exception"]["type"] == "KeyError");
  BOOST_TEST(lost[0]["throw_python_stack"][0]["line"] == line_of(script, "RAISE-MAP"));

  RunResult wait = run({.argv = {python(), script, "wait"}});
  lost = wait.findings("unretrieved-exception");
  BOOST_REQUIRE_MESSAGE(lost.size() == 1u, wait.describe());
  BOOST_TEST(lost[0]["throw_python_stack"][0]["function"] == "waited_task");
}

BOOST_AUTO_TEST_CASE(python_retrieved_futures_are_clean_and_output_is_unchanged) {
  std::string script = python_victim("futures_retrieved.py");
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult with = run({.argv = {py, script}});
      RunResult without = run({.argv = {py, script}, .preload = false});
      BOOST_TEST(with.exit_code == 0, with.describe());
      BOOST_TEST(with.findings().empty(), with.describe());
      BOOST_TEST(with.out == without.out);
      // Tracebacks printed by the program carry no trace of loopsan.
      BOOST_TEST(with.err == without.err);
      BOOST_TEST(with.err.find("Traceback") != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(python_asyncio_task_exception_never_retrieved) {
  std::string script = python_victim("asyncio_lost.py");
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult r = run({.argv = {py, script}});
      BOOST_TEST(r.exit_code == 0, r.describe());
      auto findings = r.findings("unretrieved-exception");
      BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
      const json& f = findings[0];
      BOOST_TEST(f["origin"] == "asyncio");
      BOOST_TEST(f["exception"]["type"] == "ConnectionError");
      BOOST_TEST(f["throw_python_stack"][0]["function"] == "fetch_profile");
      BOOST_TEST(f["throw_python_stack"][0]["line"] == line_of(script, "RAISE-TASK"));
      // asyncio's own log line is still there.
      BOOST_TEST(r.err.find("Task exception was never retrieved") != std::string::npos, r.err);
    }
  }
}

BOOST_AUTO_TEST_CASE(python_failed_future_alive_at_exit) {
  std::string script = python_victim("futures_at_exit.py");
  RunResult r = run({.argv = {python(), script}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  auto findings = r.findings("unretrieved-exception");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  BOOST_TEST(findings[0]["at_exit"] == true);
  BOOST_TEST(findings[0]["exception"]["type"] == "PermissionError");
  BOOST_TEST(findings[0]["throw_python_stack"][0]["line"] == line_of(script, "RAISE-EXIT"));
}

BOOST_AUTO_TEST_CASE(python_sigkill_after_a_collected_failure) {
  RunResult r = run({.argv = {python(), python_victim("futures_at_exit.py"), "sigkill"}});
  BOOST_TEST(r.term_signal == SIGKILL, r.describe());
  BOOST_REQUIRE(r.reports.size() == 1u);
  BOOST_TEST(r.reports[0].findings.size() == 1u, r.describe());
  BOOST_TEST(r.reports[0].findings[0]["at_exit"] == false);
  BOOST_TEST(r.reports[0].summary.is_null());
}

BOOST_AUTO_TEST_CASE(python_process_pool_failure_uses_the_remote_traceback) {
  std::string script = python_victim("process_pool_lost.py");
  RunResult r = run({.argv = {python(), script}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  auto findings = r.findings("unretrieved-exception");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  const json& f = findings[0];
  BOOST_TEST(f["exception"]["type"] == "ArithmeticError");
  BOOST_REQUIRE(!f["throw_python_stack"].empty());
  BOOST_TEST(f["throw_python_stack"][0]["function"] == "crunch");
  BOOST_TEST(f["throw_python_stack"][0]["line"] == line_of(script, "RAISE-PROCESS"));
}

BOOST_AUTO_TEST_CASE(python_hooks_off_with_python_stacks_0) {
  RunResult r = run({.argv = {python(), python_victim("futures_lost.py"), "submit"},
                     .options = "python_stacks=0"});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.findings().empty(), r.describe());
}

BOOST_AUTO_TEST_SUITE_END()
