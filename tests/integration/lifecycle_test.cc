// The report file across the life of a process: fork, closed descriptors, crashes, exit
// status, exec, bad options.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <fstream>

#include "tests/support/harness.h"

using namespace loopsan::test;

BOOST_AUTO_TEST_SUITE(lifecycle)

BOOST_AUTO_TEST_CASE(forked_child_writes_its_own_report) {
  RunResult r = run({.argv = {victim("loop_victim"), "fork"}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_REQUIRE_MESSAGE(r.reports.size() == 2u, r.describe());
  long child = std::stol(r.out.substr(r.out.find("child ") + 6));
  const ReportFile* child_report = r.report_of(child);
  BOOST_REQUIRE_MESSAGE(child_report != nullptr, r.describe());
  BOOST_TEST(child_report->path.find("." + std::to_string(child) + ".jsonl") != std::string::npos);
  BOOST_REQUIRE(child_report->findings.size() == 1u);
  BOOST_TEST(stack_has_function(child_report->findings[0]["stack"], "child_tick_sleeps"));
  BOOST_TEST(child_report->summary["exit"]["how"] == "exit");
  BOOST_TEST(child_report->start["ppid"] != child_report->start["pid"]);
  // The parent's report holds only the parent's finding.
  for (const auto& rep : r.reports) {
    if (&rep == child_report) continue;
    BOOST_REQUIRE(rep.findings.size() == 1u);
    BOOST_TEST(stack_has_function(rep.findings[0]["stack"], "on_tick_sleeps"));
    BOOST_TEST(rep.summary["findings"] == 1);
  }
}

BOOST_AUTO_TEST_CASE(children_forked_while_other_threads_use_the_agent_are_whole) {
  // Three threads create threads, pin and rethrow exceptions and report findings while the
  // main thread forks: the fork handlers hold every agent lock across fork(), so no child
  // inherits a table half-written or a lock held by a thread it does not have.
  constexpr int kChildren = 40;
  RunResult r = run({.argv = {victim("loop_victim"), "fork-while-busy", std::to_string(kChildren)},
                     .options = "log_to_stderr=0"});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.out == "children 40 failed 0\n", r.out);
  int child_reports = 0;
  for (const auto& rep : r.reports) {
    if (rep.findings.size() == 1u &&
        stack_has_function(rep.findings[0]["stack"], "child_tick_sleeps")) {
      ++child_reports;
      BOOST_TEST(rep.summary["threads_created"] == 1, rep.summary.dump());
      BOOST_TEST(rep.summary["exit"]["how"] == "exit");
    }
  }
  BOOST_TEST(child_reports == kChildren, r.describe());
}

BOOST_AUTO_TEST_CASE(host_fork_handlers_never_wait_on_loopsan) {
  // The host library's prepare handler takes a mutex that another thread holds while it makes
  // loopsan work; its child handler calls a function loopsan wraps. Holding loopsan's locks
  // across fork() deadlocked both ways; no child may hang and each reports its own finding.
  constexpr int kChildren = 200;
  RunResult r = run({.argv = {victim("fork_host_victim"), std::to_string(kChildren)},
                     .options = "log_to_stderr=0",
                     .timeout_s = 90});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.out == "children 200 failed 0\n", r.out);
  int child_findings = 0;
  for (const auto& rep : r.reports) {
    for (const auto& f : rep.findings) {
      if (stack_has_function(f["stack"], "forked_child_blocks")) {
        ++child_findings;
        BOOST_TEST(f["thread"]["name"] == "forked-child", f.dump());
      }
    }
  }
  BOOST_TEST(child_findings == kChildren);
}

BOOST_AUTO_TEST_CASE(report_survives_a_host_that_closes_every_descriptor) {
  RunResult r = run({.argv = {victim("loop_victim"), "close-all"}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_REQUIRE_MESSAGE(r.reports.size() == 1u, r.describe());
  const auto& rep = r.reports[0];
  BOOST_REQUIRE_MESSAGE(rep.findings.size() == 2u, r.describe());
  BOOST_TEST(stack_has_function(rep.findings[0]["stack"], "on_tick_sleeps"));
  BOOST_TEST(stack_has_function(rep.findings[1]["stack"], "second_site_sleeps"));
  BOOST_TEST(rep.summary["findings"] == 2);
}

BOOST_AUTO_TEST_CASE(descriptors_the_host_reuses_are_never_touched) {
  // The host closes everything, then takes the numbers of libunwind's validation pipe for its
  // own files; a stack captured on a new thread must not read, write or close them (libunwind
  // 1.6 would close one when its read fails).
  RunResult r = run({.argv = {victim("loop_victim"), "close-all-reuse"}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.out.find("size 0 closed 0") != std::string::npos, r.out);
  auto findings = r.findings("blocking-call");
  BOOST_REQUIRE_MESSAGE(findings.size() == 2u, r.describe());
  BOOST_TEST(stack_has_function(findings[1]["stack"], "second_site_sleeps"));
}

BOOST_AUTO_TEST_CASE(python_closerange_between_findings) {
  std::string script = python_victim("close_fds.py");
  RunResult r = run({.argv = {python(), script}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_REQUIRE_MESSAGE(r.reports.size() == 1u, r.describe());
  const auto& rep = r.reports[0];
  BOOST_REQUIRE_MESSAGE(rep.findings.size() == 2u, r.describe());
  BOOST_TEST(rep.findings[0]["python_stack"][0]["line"] == line_of(script, "BEFORE-CLOSE"));
  BOOST_TEST(rep.findings[1]["python_stack"][0]["line"] == line_of(script, "AFTER-CLOSE"));
  BOOST_TEST(rep.summary["findings"] == 2);
}

BOOST_AUTO_TEST_CASE(crash_keeps_findings_dies_by_the_same_signal_and_says_so) {
  RunResult r = run({.argv = {victim("loop_victim"), "crash"}});
  BOOST_TEST(r.term_signal == SIGSEGV, r.describe());
  BOOST_REQUIRE_MESSAGE(r.reports.size() == 1u, r.describe());
  const auto& rep = r.reports[0];
  BOOST_REQUIRE(rep.findings.size() == 1u);
  BOOST_TEST(stack_has_function(rep.findings[0]["stack"], "on_tick_sleeps"));
  BOOST_REQUIRE_MESSAGE(rep.summary.is_object(), r.describe());
  BOOST_TEST(rep.summary["exit"]["how"] == "signal");
  BOOST_TEST(rep.summary["exit"]["signal"] == "SIGSEGV");
}

BOOST_AUTO_TEST_CASE(abort_shows_in_the_summary) {
  RunResult r = run({.argv = {victim("loop_victim"), "abort"}});
  BOOST_TEST(r.term_signal == SIGABRT, r.describe());
  BOOST_REQUIRE(r.reports.size() == 1u);
  BOOST_TEST(r.reports[0].summary["exit"]["how"] == "abort");
  BOOST_TEST(r.reports[0].summary["exit"]["signal"] == "SIGABRT");
}

BOOST_AUTO_TEST_CASE(sigterm_from_outside_shows_in_the_summary) {
  // A host with SIG_DFL for SIGTERM, killed by a harness: findings and a summary remain.
  RunResult killed = run({.argv = {python(), "-c",
                                   "import asyncio, os, signal, time\n"
                                   "async def f():\n"
                                   "    time.sleep(0.01)\n"
                                   "asyncio.run(f())\n"
                                   "os.kill(os.getpid(), signal.SIGTERM)\n"
                                   "time.sleep(5)\n"}});
  BOOST_TEST(killed.term_signal == SIGTERM, killed.describe());
  BOOST_REQUIRE(killed.reports.size() == 1u);
  BOOST_TEST(killed.reports[0].findings.size() == 1u);
  BOOST_TEST(killed.reports[0].summary["exit"]["how"] == "signal");
  BOOST_TEST(killed.reports[0].summary["exit"]["signal"] == "SIGTERM");
}

BOOST_AUTO_TEST_CASE(exit_status_is_unchanged_unless_exitcode_is_set) {
  RunResult plain = run({.argv = {victim("loop_victim"), "exit", "7", "finding"}});
  BOOST_TEST(plain.exit_code == 7, plain.describe());
  BOOST_TEST(plain.findings().size() == 1u);
  BOOST_TEST(plain.reports.at(0).summary["exit"]["status"] == 7);

  RunResult changed =
      run({.argv = {victim("loop_victim"), "exit", "7", "finding"}, .options = "exitcode=42"});
  BOOST_TEST(changed.exit_code == 42, changed.describe());

  RunResult clean =
      run({.argv = {victim("loop_victim"), "exit", "7", "none"}, .options = "exitcode=42"});
  BOOST_TEST(clean.exit_code == 7, clean.describe());
  BOOST_TEST(clean.reports.empty());

  RunResult underscore = run({.argv = {victim("loop_victim"), "_exit", "5"}});
  BOOST_TEST(underscore.exit_code == 5, underscore.describe());
  BOOST_TEST(underscore.reports.at(0).summary["exit"]["status"] == 5);
  RunResult underscore_changed =
      run({.argv = {victim("loop_victim"), "_exit", "5"}, .options = "exitcode=43"});
  BOOST_TEST(underscore_changed.exit_code == 43, underscore_changed.describe());

  RunResult py =
      run({.argv = {python(), "-c", "import sys; sys.exit(9)"}, .options = "exitcode=42"});
  BOOST_TEST(py.exit_code == 9, py.describe());
}

BOOST_AUTO_TEST_CASE(exec_writes_the_summary_of_the_image_it_replaces) {
  RunResult r = run({.argv = {victim("loop_victim"), "exec"}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_REQUIRE_MESSAGE(r.reports.size() == 1u, r.describe());
  BOOST_TEST(r.reports[0].findings.size() == 1u);
  BOOST_TEST(r.reports[0].summary["exit"]["how"] == "exec");
}

BOOST_AUTO_TEST_CASE(bad_options_warn_once_each_and_the_program_runs_normally) {
  RunResult r = run({.argv = {victim("loop_victim"), "exit", "0", "finding"},
                     .options = "stack_depth=lots:no_such_option=1:log_to_stderr=1"});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.findings().size() == 1u);  // defaults kept: the finding is still there
  BOOST_TEST(r.reports.at(0).start["options"]["stack_depth"] == 64);
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t p = r.err.find(needle); p != std::string::npos; p = r.err.find(needle, p + 1)) ++n;
    return n;
  };
  BOOST_TEST(count("'stack_depth'") == 1u, r.err);
  BOOST_TEST(count("unknown option 'no_such_option'") == 1u, r.err);
  BOOST_TEST(count("warning") == 2u, r.err);
}

BOOST_AUTO_TEST_CASE(help_lists_every_option_and_the_program_still_runs) {
  RunResult r = run({.argv = {victim("loop_victim"), "exit", "3"}, .options = "help=1"});
  BOOST_TEST(r.exit_code == 3);
  for (const char* key :
       {"report_dir", "log_to_stderr", "block_threshold_ms", "stall_threshold_ms",
        "hang_threshold_ms", "loop_threads", "auto_loops", "suppressions", "stack_depth",
        "python_stacks", "js_stacks", "report_always", "exitcode", "verbosity"}) {
    BOOST_TEST(r.err.find(std::string("  ") + key + "=") != std::string::npos, key);
  }
}

BOOST_AUTO_TEST_CASE(report_always_creates_the_file_without_findings) {
  RunResult r = run({.argv = {victim("loop_victim"), "exit", "0"}, .options = "report_always=1"});
  BOOST_REQUIRE_MESSAGE(r.reports.size() == 1u, r.describe());
  BOOST_TEST(r.reports[0].findings.empty());
  BOOST_TEST(r.reports[0].summary["findings"] == 0);
}

BOOST_AUTO_TEST_CASE(unwritable_report_dir_warns_once_and_findings_reach_stderr) {
  RunResult r = run({.argv = {victim("loop_victim"), "sleep-in-loop"},
                     .options = "report_dir=/nonexistent/loopsan:log_to_stderr=0"});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.err.find("cannot create report file") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("blocking-call: nanosleep") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(suppressions_silence_matching_findings_only) {
  std::string dir = make_temp_dir();
  std::string file = dir + "/loopsan.supp";
  std::ofstream(file) << "# the tick handler is known to block\n"
                      << "blocking-call:*on_tick_sleeps*\n"
                      << "unretrieved-exception:*/futures_lost.py\n";
  RunResult r =
      run({.argv = {victim("loop_victim"), "close-all"}, .options = "suppressions=" + file});
  BOOST_TEST(r.exit_code == 0, r.describe());
  auto findings = r.findings("blocking-call");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  BOOST_TEST(stack_has_function(findings[0]["stack"], "second_site_sleeps"));
  BOOST_TEST(r.reports.at(0).summary["findings"] == 1);
  BOOST_TEST(r.reports.at(0).summary["suppressed"] == 1);

  RunResult py = run({.argv = {python(), python_victim("futures_lost.py"), "submit"},
                      .options = "suppressions=" + file});
  BOOST_TEST(py.exit_code == 0, py.describe());
  BOOST_TEST(py.findings().empty(), py.describe());
}

BOOST_AUTO_TEST_CASE(malformed_or_missing_suppressions_warn_and_the_program_runs) {
  std::string dir = make_temp_dir();
  std::string file = dir + "/bad.supp";
  std::ofstream(file)
      << "garbage line\nblocking-call:*second_site*\nnot-a-kind:x\ngil-contention:*\n";
  RunResult r =
      run({.argv = {victim("loop_victim"), "close-all"}, .options = "suppressions=" + file});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(
      r.err.find("', line 1: 'garbage line' is not kind:pattern; skipped") != std::string::npos,
      r.err);
  BOOST_TEST(
      r.err.find("', line 3: unknown finding kind 'not-a-kind'; skipped") != std::string::npos,
      r.err);
  BOOST_TEST(r.err.find("', line 4:") == std::string::npos, r.err);  // a kind with a detector
  // The good rule still applies.
  auto findings = r.findings("blocking-call");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  BOOST_TEST(stack_has_function(findings[0]["stack"], "on_tick_sleeps"));

  RunResult missing = run({.argv = {victim("loop_victim"), "sleep-in-loop"},
                           .options = "suppressions=" + dir + "/nope.supp"});
  BOOST_TEST(missing.exit_code == 0, missing.describe());
  BOOST_TEST(missing.err.find("cannot read suppressions file") != std::string::npos);
  BOOST_TEST(missing.findings().size() == 1u);

  // A file of garbage does not flood the host's stderr.
  std::string noisy = dir + "/noisy.supp";
  {
    std::ofstream out(noisy);
    for (int i = 0; i < 25; ++i) out << "garbage " << i << "\n";
  }
  RunResult flood =
      run({.argv = {victim("loop_victim"), "sleep-in-loop"}, .options = "suppressions=" + noisy});
  BOOST_TEST(flood.exit_code == 0, flood.describe());
  BOOST_TEST(flood.err.find("line 10: 'garbage 9'") != std::string::npos, flood.err);
  BOOST_TEST(flood.err.find("line 11:") == std::string::npos, flood.err);
  BOOST_TEST(flood.err.find("15 more problem(s) not shown") != std::string::npos, flood.err);
}

BOOST_AUTO_TEST_SUITE_END()
