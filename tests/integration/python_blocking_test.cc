// Blocking calls in asyncio coroutines (issue 7): each blocking API of CPython 3.11, called in a
// coroutine on the loop thread, is one finding that names the libc call and the coroutine's line;
// the same work done the asyncio way, off the loop, or after the loop, is no finding at all.
//
// The libc function each API calls was found with strace -k and gdb on both Pythons (pyenv
// 3.11.7 and Debian's 3.11.2); each victim's docstring says what it does:
//   sock.recv (no timeout)          recv
//   sock.recv after settimeout(1)   poll (one descriptor, 1000 ms), then recv on a descriptor
//                                   made non-blocking by ioctl(FIONBIO)
//   socket.getaddrinfo              getaddrinfo
//   socket.create_connection        getaddrinfo (literal address: not reported), connect
//   subprocess.run                  vfork, read (error pipe, returns at once), waitpid
//   threading.Lock (contended)      sem_trywait, then sem_wait
//   Event.wait(t), Queue.get(t)     sem_clockwait(CLOCK_MONOTONIC)
//   Future.result()                 sem_wait
//   open(fifo).read()               read
//   os.fsync                        fsync
//   time.sleep                      clock_nanosleep
//   asyncio on PollSelector/SelectSelector: the loop's own poll()/select() over >= 1 descriptor
//                                   (its self-pipe at least) with the timer's timeout
//
// APIs written in Python (socket.getaddrinfo, subprocess.run, Event.wait, ...) put their own
// standard-library frames above the coroutine: python_stack[0] is then that library frame, and
// the coroutine is the first frame of the victim script. Each case lists those frames.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "tests/support/harness.h"

using namespace loopsan::test;

namespace {

// A standard-library frame of python_stack above the coroutine (CPython 3.11).
struct LibraryFrame {
  std::string function;
  std::string file_suffix;  // e.g. "/socket.py"
};

struct Expected {
  std::string script;  // under tests/victims/python/
  std::vector<std::string> args;
  std::string call;  // the exact `call`; "sem_" accepts any sem_* call (the contract's rule)
  std::vector<LibraryFrame> above;  // innermost first
  std::string coroutine;            // the function with the BLOCKING-CALL-HERE line
  bool threshold = false;           // reported only because it waited >= block_threshold_ms
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void expect_one_blocking_call(const Expected& e) {
  std::string script = python_victim(e.script);
  int line = line_of(script, "BLOCKING-CALL-HERE");
  BOOST_REQUIRE_MESSAGE(line > 0, script);
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      std::vector<std::string> argv = {py, script};
      argv.insert(argv.end(), e.args.begin(), e.args.end());
      RunResult r = run({.argv = argv});
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.out == "done\n");
      auto findings = r.findings("blocking-call");
      BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
      BOOST_TEST(r.findings().size() == 1u, r.describe());
      const auto& f = findings[0];
      if (e.call == "sem_") {
        BOOST_TEST(f["call"].get<std::string>().rfind("sem_", 0) == 0u, f["call"]);
      } else {
        BOOST_TEST(f["call"] == e.call);
      }
      BOOST_TEST(f["thread"]["role"] == "loop");
      // Threshold-class victims wait >= 300 ms.
      if (e.threshold) BOOST_TEST(f["duration_ms"].get<int>() >= 250, f["duration_ms"]);
      const auto& stack = f["python_stack"];
      BOOST_REQUIRE_MESSAGE(stack.is_array() && stack.size() > e.above.size(), r.describe());
      for (size_t i = 0; i < e.above.size(); ++i) {
        BOOST_TEST_CONTEXT("python_stack[" << i << "] = " << stack[i].dump()) {
          BOOST_TEST(stack[i]["function"] == e.above[i].function);
          BOOST_TEST(ends_with(stack[i]["file"].get<std::string>(), e.above[i].file_suffix));
          BOOST_TEST(stack[i]["line"].get<int>() > 0);
        }
      }
      const auto& coroutine = stack[e.above.size()];
      BOOST_TEST_CONTEXT("python_stack[" << e.above.size() << "] = " << coroutine.dump()) {
        BOOST_TEST(coroutine["function"] == e.coroutine);
        BOOST_TEST(coroutine["file"] == script);
        BOOST_TEST(coroutine["line"] == line);
      }
      BOOST_TEST(stack_has_function(f["stack"], "_PyEval_EvalFrameDefault"), r.describe());
    }
  }
}

void expect_clean(const std::string& mode) {
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py << " clean.py " << mode) {
      RunResult r = run({.argv = {py, python_victim("blocking/clean.py"), mode}});
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.out == "done\n", r.describe());
      BOOST_TEST(r.findings().empty(), r.describe());
      BOOST_TEST(r.reports.empty(), r.describe());
      BOOST_TEST(r.err.empty(), r.err);
    }
  }
}

const LibraryFrame kConditionWait{"wait", "/threading.py"};

}  // namespace

BOOST_AUTO_TEST_SUITE(python_blocking)

// --- Reported: one finding each, at the coroutine's line ------------------------------------

BOOST_AUTO_TEST_CASE(recv_on_a_blocking_socket) {
  expect_one_blocking_call(
      {.script = "blocking/socket_recv.py", .call = "recv", .coroutine = "read_reply"});
}

BOOST_AUTO_TEST_CASE(recv_with_a_timeout_is_a_nested_poll) {
  // The recv() after the poll() is on a non-blocking descriptor: not a second finding.
  expect_one_blocking_call({.script = "blocking/socket_timeout_recv.py",
                            .call = "poll",
                            .coroutine = "read_with_timeout"});
}

BOOST_AUTO_TEST_CASE(nested_poll_in_a_poll_or_select_asyncio_loop) {
  // The loop's own poll()/select() (selectors.PollSelector/SelectSelector) is not reported, the
  // coroutine's one-descriptor poll() is.
  for (const char* selector : {"poll", "select"}) {
    BOOST_TEST_CONTEXT(selector) {
      expect_one_blocking_call({.script = "blocking/selector_loop.py",
                                .args = {selector},
                                .call = "poll",
                                .coroutine = "read_with_timeout"});
    }
  }
}

BOOST_AUTO_TEST_CASE(getaddrinfo_of_a_host_name) {
  expect_one_blocking_call({.script = "blocking/getaddrinfo.py",
                            .call = "getaddrinfo",
                            .above = {{"getaddrinfo", "/socket.py"}},
                            .coroutine = "resolve"});
}

BOOST_AUTO_TEST_CASE(create_connection_is_a_blocking_connect) {
  // Its getaddrinfo("127.0.0.1") is numeric: only the connect() is reported.
  expect_one_blocking_call({.script = "blocking/create_connection.py",
                            .call = "connect",
                            .above = {{"create_connection", "/socket.py"}},
                            .coroutine = "dial"});
}

BOOST_AUTO_TEST_CASE(subprocess_run_waits_for_the_child) {
  expect_one_blocking_call({.script = "blocking/subprocess_run.py",
                            .call = "waitpid",
                            .above = {{"_try_wait", "/subprocess.py"},
                                      {"_wait", "/subprocess.py"},
                                      {"wait", "/subprocess.py"},
                                      {"communicate", "/subprocess.py"},
                                      {"run", "/subprocess.py"}},
                            .coroutine = "run_tool"});
}

BOOST_AUTO_TEST_CASE(contended_threading_lock) {
  expect_one_blocking_call({.script = "blocking/lock_contended.py",
                            .call = "sem_",  // sem_wait
                            .coroutine = "update_shared_state",
                            .threshold = true});
}

BOOST_AUTO_TEST_CASE(threading_event_wait) {
  expect_one_blocking_call({.script = "blocking/event_wait.py",
                            .call = "sem_",  // sem_clockwait
                            .above = {kConditionWait, {"wait", "/threading.py"}},
                            .coroutine = "wait_for_ready",
                            .threshold = true});
}

BOOST_AUTO_TEST_CASE(queue_get_with_a_timeout) {
  expect_one_blocking_call({.script = "blocking/queue_get.py",
                            .call = "sem_",  // sem_clockwait
                            .above = {kConditionWait, {"get", "/queue.py"}},
                            .coroutine = "next_job",
                            .threshold = true});
}

BOOST_AUTO_TEST_CASE(concurrent_future_result_on_the_loop) {
  expect_one_blocking_call({.script = "blocking/future_result.py",
                            .call = "sem_",  // sem_wait
                            .above = {kConditionWait, {"result", "/concurrent/futures/_base.py"}},
                            .coroutine = "compute",
                            .threshold = true});
}

BOOST_AUTO_TEST_CASE(read_of_a_fifo) {
  expect_one_blocking_call({.script = "blocking/fifo_read.py",
                            .call = "read",
                            .coroutine = "read_message",
                            .threshold = true});
}

BOOST_AUTO_TEST_CASE(os_fsync) {
  expect_one_blocking_call(
      {.script = "blocking/fsync.py", .call = "fsync", .coroutine = "save_state"});
}

BOOST_AUTO_TEST_CASE(time_sleep) {
  // The first victim of the catalogue (also in the blocking suite).
  expect_one_blocking_call(
      {.script = "sleep_in_coroutine.py", .call = "clock_nanosleep", .coroutine = "slow_handler"});
}

// --- Clean: zero findings, no report, nothing on stderr -------------------------------------

BOOST_AUTO_TEST_CASE(the_same_calls_in_to_thread_and_run_in_executor_are_clean) {
  expect_clean("off-loop");
}

BOOST_AUTO_TEST_CASE(asyncio_streams_and_sock_methods_are_clean) {
  expect_clean("streams");
}

BOOST_AUTO_TEST_CASE(asyncio_subprocesses_are_clean) {
  expect_clean("subprocess");
}

BOOST_AUTO_TEST_CASE(loop_getaddrinfo_is_clean) {
  expect_clean("resolve");
}

BOOST_AUTO_TEST_CASE(uncontended_threading_primitives_are_clean) {
  expect_clean("threading");
}

BOOST_AUTO_TEST_CASE(asyncio_primitives_are_clean) {
  expect_clean("asyncio-sync");
}

BOOST_AUTO_TEST_CASE(waiting_for_the_gil_is_clean) {
  expect_clean("gil");
}

BOOST_AUTO_TEST_CASE(blocking_after_asyncio_run_returned_is_clean) {
  expect_clean("after-run");
}

BOOST_AUTO_TEST_SUITE_END()
