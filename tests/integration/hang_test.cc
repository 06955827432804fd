// deadlock and hung-wait: threads waiting for each other (reported as soon as the cycle closes,
// long before any hang threshold), waits that never end (reported at hang_threshold_ms with
// every thread's stack, and kept when the process is then killed), and the clean twins: an idle
// pool worker on its condition variable, joined threads, a long sleep off any loop.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include "tests/support/harness.h"

using namespace loopsan::test;
using nlohmann::json;

namespace {

RunResult run_hang(const std::string& mode, const std::string& options, const std::string& kill) {
  return run({.argv = {victim("hang_victim"), mode},
              .options = options,
              .timeout_s = 60,
              .kill_when_stderr_has = kill});
}

const json* thread_of(const json& f, const json& tid) {
  for (const json& t : f["threads"]) {
    if (t["tid"] == tid) return &t;
  }
  return nullptr;
}

// Runs a Python victim until its one hung-wait (then kills it) and returns that finding.
json one_python_hung_wait(const std::string& py, const std::string& script) {
  RunResult r = run({.argv = {py, script},
                     .options = "hang_threshold_ms=300",
                     .timeout_s = 60,
                     .kill_when_stderr_has = "hung-wait: "});
  BOOST_TEST(r.term_signal == SIGKILL, r.describe());
  auto findings = r.findings("hung-wait");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  BOOST_TEST(r.reports.at(0).summary.is_null(), r.describe());  // killed: the finding stays
  return findings[0];
}

// A clean twin: it waits longer than hang_threshold_ms=300 by design, ends normally, and gives
// no finding.
void expect_clean(const std::vector<std::string>& argv) {
  RunResult r = run({.argv = argv, .options = "hang_threshold_ms=300", .timeout_s = 60});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.findings().empty(), r.describe());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(hang)

BOOST_AUTO_TEST_CASE(abba_deadlock_before_any_hang_threshold) {
  // hang_threshold_ms is a minute: the deadlock is reported within watchdog ticks of closing.
  RunResult r = run_hang("abba", "hang_threshold_ms=60000", "deadlock: ");
  BOOST_TEST(r.term_signal == SIGKILL, r.describe());
  auto findings = r.findings("deadlock");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  BOOST_TEST(r.findings().size() == 1u, r.describe());
  const json& f = findings[0];
  BOOST_TEST(f["time_ms"].get<int>() < 5000, f.dump());
  BOOST_REQUIRE(f["cycle"].size() == 2u);
  BOOST_REQUIRE(f["threads"].size() == 2u);
  const json& a = f["cycle"][0];
  const json& b = f["cycle"][1];
  BOOST_TEST(a["holder_tid"] == b["tid"]);
  BOOST_TEST(b["holder_tid"] == a["tid"]);
  BOOST_TEST(a["waiting_in"] == "pthread_mutex_lock");
  BOOST_TEST(b["waiting_in"] == "pthread_mutex_lock");
  // Both threads, each with the stack where it blocked: together both guilty functions.
  bool first = false, second = false;
  for (const json& t : f["threads"]) {
    BOOST_TEST(t["waiting_for"]["kind"] == "mutex", t.dump());
    first = first || stack_has_function(t["stack"], "take_first_then_second");
    second = second || stack_has_function(t["stack"], "take_second_then_first");
  }
  BOOST_TEST(first, f.dump());
  BOOST_TEST(second, f.dump());
  BOOST_TEST(r.reports.at(0).summary.is_null());  // killed: the finding stays
}

BOOST_AUTO_TEST_CASE(main_joining_a_deadlocked_thread_is_hung_once_around_the_cycle) {
  // Main joins a thread of the cycle: its hung-wait names the chain up to the cycle once (it
  // used to go round it to the step limit), and `loopsan report` shows every thread.
  RunResult r = run_hang("abba", "hang_threshold_ms=300", "hung-wait: ");
  BOOST_TEST(r.term_signal == SIGKILL, r.describe());
  BOOST_REQUIRE_MESSAGE(r.findings("deadlock").size() == 1u, r.describe());
  auto hung = r.findings("hung-wait");
  BOOST_REQUIRE_MESSAGE(hung.size() == 1u, r.describe());
  std::string message = hung[0]["message"];
  BOOST_TEST(message.find("in pthread_join, waiting for thread ") != std::string::npos, message);
  BOOST_TEST(message.find(", which is part of a deadlock") != std::string::npos, message);
  BOOST_TEST(message.size() < 400u, message);
  BOOST_TEST(hung[0]["threads"].size() == 3u, hung[0].dump());

  RunResult text = run({.argv = {cli_path(), "report", r.report_dir}, .preload = false});
  BOOST_TEST(text.out.find("  Threads (3):") != std::string::npos, text.out);
  BOOST_TEST(text.out.find("    at take_second_then_first (hang_victim.cc:") != std::string::npos,
             text.out);
  BOOST_TEST(text.out.find("waiting for mutex, object=0x") != std::string::npos, text.out);
  BOOST_TEST(text.out.find("Native stack of thread ") != std::string::npos, text.out);
}

BOOST_AUTO_TEST_CASE(a_loop_frozen_in_a_read_for_ever_is_reported_while_it_lasts) {
  // The blocking-call finding would come when read() returns, which it never does: the
  // hung-wait says so at the threshold, and survives the SIGKILL that follows.
  RunResult r = run({.argv = {victim("loop_victim"), "read-forever"},
                     .options = "hang_threshold_ms=300",
                     .timeout_s = 60,
                     .kill_when_stderr_has = "hung-wait: "});
  BOOST_TEST(r.term_signal == SIGKILL, r.describe());
  auto findings = r.findings("hung-wait");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  const json& f = findings[0];
  BOOST_TEST(f["call"] == "read");
  BOOST_TEST(f["thread"]["role"] == "loop");
  BOOST_TEST(f["duration_ms"].get<int>() >= 300);
  BOOST_TEST(f["message"].get<std::string>().find("the loop is frozen") != std::string::npos,
             f.dump());
  BOOST_TEST(stack_has_function(f["stack"], "on_tick_reads_forever"), f.dump());
  // The descriptor, with what it is.
  BOOST_TEST(f["message"].get<std::string>().find(" on descriptor ") != std::string::npos,
             f.dump());
  BOOST_TEST(f["message"].get<std::string>().find("(pipe:[") != std::string::npos, f.dump());
  const json* self = thread_of(f, f["thread"]["tid"]);
  BOOST_REQUIRE_MESSAGE(self != nullptr, f.dump());
  BOOST_TEST((*self)["waiting_for"]["kind"] == "descriptor", f.dump());
  BOOST_TEST((*self)["waiting_for"].value("path", "").rfind("pipe:[", 0) == 0u, f.dump());
  BOOST_TEST(r.reports.at(0).summary.is_null());
}

BOOST_AUTO_TEST_CASE(a_python_loop_frozen_in_recv_names_the_coroutine) {
  const std::string script = python_victim("hang_loop_recv.py");
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      const json f = one_python_hung_wait(py, script);
      BOOST_TEST(f["call"] == "recv");
      BOOST_REQUIRE(!f["python_stack"].empty());
      BOOST_TEST(f["python_stack"][0]["function"] == "wait_for_reply", f.dump());
      BOOST_TEST(f["python_stack"][0]["line"] == line_of(script, "HANG-CALL"), f.dump());
      // Its socket's peer, in the message and in the thread's waiting_for.
      BOOST_TEST(f["message"].get<std::string>().find(", peer 127.0.0.1:") != std::string::npos,
                 f.dump());
      const json* self = thread_of(f, f["thread"]["tid"]);
      BOOST_REQUIRE_MESSAGE(self != nullptr, f.dump());
      BOOST_TEST((*self)["waiting_for"].value("peer", "").rfind("127.0.0.1:", 0) == 0u, f.dump());
    }
  }
}

BOOST_AUTO_TEST_CASE(future_of_std_async_whose_producer_needs_mains_mutex) {
  RunResult r = run_hang("async-join", "hang_threshold_ms=60000", "deadlock: ");
  auto findings = r.findings("deadlock");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  const json& f = findings[0];
  BOOST_TEST(f["time_ms"].get<int>() < 5000, f.dump());
  BOOST_TEST(f["thread"]["role"] == "main");
  BOOST_REQUIRE(f["cycle"].size() == 2u);
  // Main waits on the future: std::async's wait joins the producer thread.
  BOOST_TEST(f["cycle"][0]["tid"] == f["thread"]["tid"]);
  BOOST_TEST(f["cycle"][0]["waiting_in"] == "pthread_join");
  BOOST_TEST(f["cycle"][1]["waiting_in"] == "pthread_mutex_lock");
  BOOST_TEST(f["cycle"][1]["holder_tid"] == f["thread"]["tid"]);
  BOOST_TEST(stack_has_function(f["stack"], "wait_for_answer"), f.dump());
  const json* producer = thread_of(f, f["cycle"][1]["tid"]);
  BOOST_REQUIRE(producer != nullptr);
  BOOST_TEST(stack_has_function((*producer)["stack"], "produce_under_lock"), f.dump());
}

BOOST_AUTO_TEST_CASE(future_never_completed_is_a_hung_wait) {
  RunResult r = run_hang("future-never", "hang_threshold_ms=300", "hung-wait: ");
  BOOST_TEST(r.term_signal == SIGKILL, r.describe());
  auto findings = r.findings("hung-wait");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  BOOST_TEST(r.findings().size() == 1u, r.describe());
  const json& f = findings[0];
  BOOST_TEST(f["call"] == "std::future::wait");
  BOOST_TEST(f["duration_ms"].get<int>() >= 300);
  BOOST_TEST(f["thread"]["role"] == "main");
  BOOST_TEST(stack_has_function(f["stack"], "wait_for_answer"), f.dump());
  // The all-thread dump: the promise's holder too, with what it waits in and for how long.
  BOOST_REQUIRE(f["threads"].size() == 2u);
  bool holder = false;
  for (const json& t : f["threads"]) {
    BOOST_TEST(t["waiting_ms"].get<int>() >= 0, t.dump());
    if (stack_has_function(t["stack"], "keep_the_promise")) {
      holder = true;
      BOOST_TEST(t["waiting_in"] == "clock_nanosleep");
    }
  }
  BOOST_TEST(holder, f.dump());
  BOOST_TEST(r.reports.at(0).summary.is_null());
}

BOOST_AUTO_TEST_CASE(python_future_result_after_system_exit_in_the_loop_thread) {
  // Seed 001: run_coroutine_threadsafe + SystemExit: the loop thread dies, main waits in
  // Future.result() for ever.
  const std::string script = python_victim("hang_future_result.py");
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      const json f = one_python_hung_wait(py, script);
      BOOST_TEST(f["call"] == "concurrent.futures.Future.result");
      BOOST_TEST(f["thread"]["role"] == "main");
      BOOST_TEST(f["duration_ms"].get<int>() >= 300);
      // The caller's line is named.
      bool caller = false;
      for (const json& p : f["python_stack"]) {
        if (p["function"] == "main" && p["line"] == line_of(script, "HANG-CALL")) caller = true;
      }
      BOOST_TEST(caller, f.dump());
      BOOST_TEST(f["message"].get<std::string>().find(
                     "hang_future_result.py:" + std::to_string(line_of(script, "HANG-CALL"))) !=
                     std::string::npos,
                 f.dump());
    }
  }
}

BOOST_AUTO_TEST_CASE(python_stacks_read_while_threads_start_and_exit) {
  // Each late result is a wait past the threshold: every thread's Python stack is read for it
  // while thread states are created and freed around it (read without the GIL, this crashed
  // the host: 3 runs in 3). A timer thread ends each wait (it may progress: no hang), and the
  // idle queue worker waits for work: no finding at all.
  const std::string script = python_victim("hang_while_threads_churn.py");
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult r = run(
          {.argv = {py, script}, .options = "hang_threshold_ms=150:verbosity=2", .timeout_s = 60});
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.out.find("done") != std::string::npos, r.describe());
      BOOST_TEST(r.findings().empty(), r.describe());
      size_t reads = 0;
      const std::string read = "every thread's Python stack: read holding the GIL";
      for (size_t at = r.err.find(read); at != std::string::npos; at = r.err.find(read, at + 1)) {
        ++reads;
      }
      BOOST_TEST(reads >= 4u, r.err);  // one per late result: 8, less any without the GIL
    }
  }
}

BOOST_AUTO_TEST_CASE(process_ends_when_its_last_thread_exits) {
  // glibc ends the process when its last thread calls pthread_exit: loopsan's own threads must
  // not count (the watchdog kept such a process alive for ever).
  RunResult r = run({.argv = {victim("hang_victim"), "main-exits"},
                     .options = "hang_threshold_ms=300:report_always=1",
                     .timeout_s = 30});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.out.find("done") != std::string::npos, r.describe());
  BOOST_TEST(r.findings().empty(), r.describe());
  BOOST_REQUIRE_EQUAL(r.reports.size(), 1u);
  BOOST_TEST(r.reports[0].summary["exit"]["how"] == "exit", r.describe());
}

BOOST_AUTO_TEST_CASE(python_long_waits_whose_producer_may_end_them) {
  // Main joins a sleeping thread, then a loop thread idle in its wait, then waits on a future
  // whose worker computes: 1.5 s each against 300 ms, and no hang (a Python wait does not say
  // whom it waits for).
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      expect_clean({py, python_victim("hang_clean.py")});
    }
  }
}

BOOST_AUTO_TEST_CASE(clean_long_waits_by_design) {
  // Each waits far longer than the threshold (1.5 s vs 300 ms) or not at all: never a hang.
  //   abba-timed: a lock-order cycle whose waits time out (1.5 s): it ends by itself;
  //   clean-idle-server: three threads of one io_context waiting for work in asio's scheduler,
  //   a loop's idle wait, not a loop frozen in a blocking call;
  //   join-after-loop: a thread that ran an epoll loop, closed it, then joins a worker that
  //   computes: neither a frozen loop nor a hang.
  for (const char* mode : {"idle-worker", "joined", "sleeps", "abba-timed"}) {
    BOOST_TEST_CONTEXT(mode) {
      expect_clean({victim("hang_victim"), mode});
    }
  }
  expect_clean({victim("asio_victim"), "clean-idle-server"});
  expect_clean({victim("loop_victim"), "join-after-loop"});
}

BOOST_AUTO_TEST_SUITE_END()
