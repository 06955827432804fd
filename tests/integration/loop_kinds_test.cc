// Blocking calls on the event loops of libraries: libuv, libevent, GLib and boost::asio, from
// Debian's packages. Each victim (tests/victims/loops/) has buggy modes, where a loop callback
// calls a blocking function from a uniquely named noinline function, and clean modes, which use
// the library's non-blocking I/O, move blocking work off the loop, or block only after the loop
// function returned: those must give no finding at all.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/support/harness.h"

using namespace loopsan::test;

namespace {

// One blocking call the victim makes on its loop thread.
struct Expected {
  std::vector<std::string> calls;  // accepted values of "call" (one, or the variants of a sleep)
  std::string function;            // the victim's function that must be in the stack
  int min_duration_ms = 0;         // for threshold-class waits: how long the victim waited
};

bool is_one_of(const nlohmann::json& call, const std::vector<std::string>& calls) {
  return call.is_string() &&
         std::find(calls.begin(), calls.end(), call.get<std::string>()) != calls.end();
}

// Runs `victim_name mode` under the shim: exactly one blocking-call finding per expected call,
// on a loop thread, naming the guilty function, and nothing else. `said` is a piece of what the
// victim prints when it did what the mode is about.
void expect_blocking(const std::string& victim_name, const std::string& mode,
                     const std::vector<Expected>& expected, const std::string& said) {
  RunResult r = run({.argv = {victim(victim_name), mode}, .timeout_s = 30});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.out.find(said) != std::string::npos, r.describe());
  auto findings = r.findings("blocking-call");
  BOOST_TEST(findings.size() == expected.size(), r.describe());
  BOOST_TEST(r.findings().size() == findings.size(), r.describe());
  for (const Expected& e : expected) {
    BOOST_TEST_CONTEXT(victim_name << " " << mode << ": " << e.calls[0] << " in " << e.function) {
      std::vector<nlohmann::json> matching;
      for (const auto& f : findings) {
        if (is_one_of(f["call"], e.calls)) matching.push_back(f);
      }
      BOOST_REQUIRE_MESSAGE(matching.size() == 1u, r.describe());
      const auto& f = matching[0];
      BOOST_TEST(f["thread"]["role"] == "loop", r.describe());
      BOOST_TEST(stack_has_function(f["stack"], e.function), r.describe());
      if (e.min_duration_ms > 0) {
        BOOST_TEST(f["duration_ms"].get<int>() >= e.min_duration_ms, r.describe());
      }
    }
  }
}

// Runs `victim_name mode` under the shim: it did its work, exited 0 and left no finding.
void expect_clean(const std::string& victim_name, const std::string& mode,
                  const std::vector<std::string>& said) {
  RunResult r = run({.argv = {victim(victim_name), mode}, .timeout_s = 30});
  BOOST_TEST(r.exit_code == 0, r.describe());
  for (const std::string& s : said) BOOST_TEST(r.out.find(s) != std::string::npos, r.describe());
  BOOST_TEST(r.findings().empty(), r.describe());
}

const std::vector<std::string> kSleeps = {"nanosleep", "clock_nanosleep"};

}  // namespace

BOOST_AUTO_TEST_SUITE(loop_kinds)

// --- libuv ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(libuv_timer_sleep) {
  expect_blocking("uv_victim", "sleep", {{{"usleep"}, "on_timer_sleeps"}},
                  "usleep(20 ms) in a timer callback");
}

BOOST_AUTO_TEST_CASE(libuv_timer_getaddrinfo) {
  expect_blocking("uv_victim", "getaddrinfo", {{{"getaddrinfo"}, "on_timer_resolves_name"}},
                  "getaddrinfo(localhost) = 0");
}

BOOST_AUTO_TEST_CASE(libuv_timer_blocking_connect) {
  expect_blocking("uv_victim", "connect", {{{"connect"}, "on_timer_connects_blocking"}},
                  "connect() of a blocking socket");
}

BOOST_AUTO_TEST_CASE(libuv_timer_waitpid) {
  expect_blocking("uv_victim", "waitpid", {{{"waitpid"}, "on_timer_waits_for_child"}},
                  "waitpid() in a timer callback");
}

BOOST_AUTO_TEST_CASE(libuv_clean_nonblocking_io) {
  expect_clean("uv_victim", "clean-io", {"uv_tcp echo: ping", "uv_pipe over a socketpair: hello"});
}

BOOST_AUTO_TEST_CASE(libuv_clean_work_off_the_loop) {
  expect_clean("uv_victim", "clean-work",
               {"uv_queue_work: getaddrinfo", "uv_getaddrinfo(localhost) = 0",
                "uv_spawn(true) exited with 0", "uv_fs_fsync = 0"});
}

BOOST_AUTO_TEST_CASE(libuv_clean_blocking_after_uv_run_returned) {
  expect_clean("uv_victim", "clean-after", {"after uv_run: usleep, waitpid, fsync"});
}

// --- libevent -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(libevent_timer_sleep) {
  expect_blocking("event_victim", "sleep", {{{"usleep"}, "on_timer_sleeps"}},
                  "usleep(20 ms) in a timer callback");
}

BOOST_AUTO_TEST_CASE(libevent_timer_recv_on_blocking_socket) {
  expect_blocking("event_victim", "recv", {{{"recv"}, "on_timer_receives_blocking"}},
                  "recv() on a blocking socket");
}

BOOST_AUTO_TEST_CASE(libevent_timer_fsync) {
  expect_blocking("event_victim", "fsync", {{{"fsync"}, "on_timer_syncs_journal"}},
                  "fsync() in a timer callback");
}

BOOST_AUTO_TEST_CASE(libevent_clean_bufferevents_and_evdns) {
  expect_clean("event_victim", "clean-io",
               {"bufferevent TCP echo: ping", "bufferevent over a socketpair: hello",
                "evdns_getaddrinfo(localhost) = 0"});
}

BOOST_AUTO_TEST_CASE(libevent_clean_worker_thread_and_event_active) {
  expect_clean("event_victim", "clean-thread", {"worker: getaddrinfo"});
}

BOOST_AUTO_TEST_CASE(libevent_clean_blocking_after_dispatch_returned) {
  expect_clean("event_victim", "clean-after", {"after event_base_dispatch: usleep"});
}

// --- GLib -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(glib_timeout_g_usleep) {
  expect_blocking("glib_victim", "sleep", {{kSleeps, "on_timeout_sleeps"}},
                  "g_usleep(20 ms) in a timeout callback");
}

BOOST_AUTO_TEST_CASE(glib_timeout_contended_gmutex) {
  // GMutex waits with syscall(SYS_futex, FUTEX_WAIT_PRIVATE): call "futex".
  expect_blocking("glib_victim", "mutex", {{{"futex"}, "on_timeout_locks_gmutex", 250}},
                  "g_mutex_lock() in a timeout callback waited");
}

BOOST_AUTO_TEST_CASE(glib_timeout_g_spawn_sync) {
  // Output to /dev/null: GLib forks, reads its exec-error pipe (returns at exec), waitpid()s.
  expect_blocking("glib_victim", "spawn", {{{"waitpid"}, "on_timeout_spawns_sync"}},
                  "g_spawn_sync(sleep) in a timeout callback: status 0");
}

BOOST_AUTO_TEST_CASE(glib_timeout_g_spawn_sync_reading_output) {
  // Output captured: GLib poll()s its output pipes with no timeout (a nested wait on a set
  // that is not the loop's: two entries, one of them -1) until the child closes them, then
  // waitpid()s for the child, which lives on for 50 ms.
  expect_blocking(
      "glib_victim", "spawn-output",
      {{{"poll"}, "on_timeout_spawns_for_output"}, {{"waitpid"}, "on_timeout_spawns_for_output"}},
      "output loopsan");
}

BOOST_AUTO_TEST_CASE(glib_clean_gio_streams_watches_child_watch) {
  expect_clean(
      "glib_victim", "clean-io",
      {"GIO async streams over a socketpair: ping", "g_io_add_watch on a non-blocking pipe: hello",
       "g_spawn_async(true) + g_child_watch_add: status 0"});
}

BOOST_AUTO_TEST_CASE(glib_clean_gtask_gthread_resolver) {
  expect_clean("glib_victim", "clean-thread",
               {"g_task_run_in_thread: getaddrinfo", "GThread: getaddrinfo",
                "g_resolver_lookup_by_name_async(localhost)"});
}

BOOST_AUTO_TEST_CASE(glib_clean_g_spawn_sync_reading_output_off_the_loop) {
  // g_spawn_sync's poll() of the child's two output pipes is no loop of its own: the waitpid()
  // that follows, on a thread that runs no loop (main before the loop, a GTask, a GThread), is
  // not a finding.
  expect_clean("glib_victim", "clean-spawn-off-loop",
               {"g_spawn_sync(sh) before the loop: status 0, output out",
                "g_spawn_sync(sh) in a GTask: status 0, output out",
                "g_spawn_sync(sh) in a GThread: status 0, output out"});
}

BOOST_AUTO_TEST_CASE(glib_clean_poll_loop_that_returned_before_the_main_loop) {
  // A function that poll()ed two descriptors and returned ran a poll loop that ended with it:
  // the main loop that runs afterwards waits in its own poll(), which is no nested wait.
  expect_clean("glib_victim", "clean-poll-before-loop",
               {"poll() of two pipes before the loop: 1 ready", "timeout fired"});
}

BOOST_AUTO_TEST_CASE(glib_clean_blocking_after_main_loop_run_returned) {
  expect_clean("glib_victim", "clean-after", {"after g_main_loop_run: g_usleep"});
}

// --- boost::asio ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(asio_timer_sleep_for) {
  expect_blocking("asio_victim", "sleep", {{kSleeps, "on_timer_sleeps"}},
                  "sleep_for(20 ms) in a timer handler");
}

BOOST_AUTO_TEST_CASE(asio_timer_future_get) {
  // libstdc++'s future waits with syscall(SYS_futex): call "futex".
  expect_blocking("asio_victim", "future", {{{"futex"}, "on_timer_waits_for_future", 250}},
                  "future::get() in a timer handler waited");
}

BOOST_AUTO_TEST_CASE(asio_timer_contended_mutex) {
  expect_blocking("asio_victim", "mutex",
                  {{{"pthread_mutex_lock"}, "on_timer_locks_contended_mutex", 250}},
                  "std::mutex::lock() in a timer handler waited");
}

BOOST_AUTO_TEST_CASE(asio_timer_resolver_getaddrinfo) {
  expect_blocking("asio_victim", "getaddrinfo", {{{"getaddrinfo"}, "on_timer_resolves_name"}},
                  "tcp::resolver::resolve(localhost) in a timer handler");
}

BOOST_AUTO_TEST_CASE(asio_clean_async_io) {
  expect_clean(
      "asio_victim", "clean-async",
      {"async_read over a socket pair: hello", "TCP echo with async_accept/async_connect: ping"});
}

BOOST_AUTO_TEST_CASE(asio_clean_thread_pool) {
  expect_clean("asio_victim", "clean-pool",
               {"thread_pool: getaddrinfo", "thread_pool: future::get() = 7"});
}

BOOST_AUTO_TEST_CASE(asio_clean_blocking_after_run_returned) {
  expect_clean("asio_victim", "clean-after", {"after io_context::run: usleep"});
}

BOOST_AUTO_TEST_CASE(asio_clean_io_context_run_by_two_threads) {
  // The thread that is not waiting in epoll_wait idles in pthread_cond_wait inside asio's
  // scheduler (posix_event::wait from scheduler::do_run_one): that is the loop's own wait.
  expect_clean("asio_victim", "clean-two-threads", {"two threads ran one io_context: 4 timers"});
}

BOOST_AUTO_TEST_SUITE_END()
