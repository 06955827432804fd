// The blocking-call detector, driven through the event API: loop waits make a loop thread,
// BlockingScopes are the wrappers' calls, closing the polling set ends the loop.
#include <boost/test/unit_test.hpp>

#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <thread>

#include "agent/events.h"
#include "tests/support/stacks.h"
#include "tests/unit/detectors/findings.h"

namespace events = loopsan::events;
using loopsan::test::Findings;
using loopsan::test::stack_has_function;

namespace {

void sleep_ms(int ms) {
  timespec ts{0, ms * 1000000L};
  nanosleep(&ts, nullptr);
}

// What a generated wrapper does around the real call.
__attribute__((noinline)) void wrapped_call(const char* name, events::BlockRule rule,
                                            int64_t requested_ns, int really_ms) {
  events::BlockingScope scope(events::BlockingCall{name, rule, requested_ns});
  sleep_ms(really_ms);
  asm volatile("" ::: "memory");  // keep the frame: tests look for it
}

__attribute__((noinline)) void handler_that_sleeps() {
  wrapped_call("nanosleep", events::BlockRule::kAlways, 2000000, 2);
}

__attribute__((noinline)) void handler_that_sleeps_repeatedly() {
  wrapped_call("usleep", events::BlockRule::kAlways, 1000000, 1);
}

__attribute__((noinline)) void handler_sleeps_before_the_close() {
  wrapped_call("usleep", events::BlockRule::kAlways, 1000000, 1);
}

__attribute__((noinline)) void handler_sleeps_after_the_close() {
  wrapped_call("usleep", events::BlockRule::kAlways, 2000000, 2);
}

__attribute__((noinline)) void handler_that_waits_on_a_lock(int ms) {
  wrapped_call("pthread_mutex_lock", events::BlockRule::kThreshold, -1, ms);
}

// A fresh thread that runs a loop on its own epoll set for the length of `body`.
template <typename Body>
void on_loop_thread(Body body) {
  std::thread t([&] {
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    { events::PollingWait wait("epoll_wait", events::epoll_wait_kind(epfd), 0, nullptr); }
    body(epfd);
    events::fd_closing(epfd, nullptr);
    close(epfd);
  });
  t.join();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(blocking_detector)

BOOST_AUTO_TEST_CASE(sleep_off_a_loop_thread_is_no_finding) {
  Findings::take();
  std::thread([] { handler_that_sleeps(); }).join();
  BOOST_TEST(Findings::take().empty());
}

BOOST_AUTO_TEST_CASE(sleep_on_a_loop_thread_is_reported_with_the_callers_frame) {
  Findings::take();
  on_loop_thread([](int) { handler_that_sleeps(); });
  auto found = Findings::take();
  BOOST_REQUIRE_EQUAL(found.size(), 1u);
  const auto& f = found[0];
  BOOST_TEST(f["kind"] == "blocking-call");
  BOOST_TEST(f["call"] == "nanosleep");
  BOOST_TEST(f["thread"]["role"] == "loop");
  BOOST_TEST(stack_has_function(f["stack"], "handler_that_sleeps"), f["stack"].dump());
  BOOST_TEST(f["message"].get<std::string>().find("nanosleep(2.0 ms) blocked the event loop") == 0,
             f["message"]);
}

BOOST_AUTO_TEST_CASE(the_same_call_site_is_one_finding) {
  Findings::take();
  on_loop_thread([](int) {
    // volatile: an unrolled loop would be three call sites, three findings.
    for (volatile int i = 0; i < 3; i = i + 1) handler_that_sleeps_repeatedly();
  });
  auto found = Findings::take();
  BOOST_REQUIRE_EQUAL(found.size(), 1u);
  BOOST_TEST(stack_has_function(found[0]["stack"], "handler_that_sleeps_repeatedly"));
}

BOOST_AUTO_TEST_CASE(a_yield_and_an_allowed_scope_are_no_findings) {
  Findings::take();
  on_loop_thread([](int) {
    wrapped_call("sched_yield_like", events::BlockRule::kAlways, 0, 0);
    events::allow_blocking_begin("test");
    wrapped_call("allowed_sleep", events::BlockRule::kAlways, 1000000, 1);
    events::allow_blocking_end();
  });
  BOOST_TEST(Findings::take().empty());
}

BOOST_AUTO_TEST_CASE(threshold_calls_are_reported_only_past_block_threshold_ms) {
  // block_threshold_ms=30 (main.cc): 1 ms is quick, 80 ms is well past it.
  Findings::take();
  on_loop_thread([](int) { handler_that_waits_on_a_lock(1); });
  BOOST_TEST(Findings::take().empty());
  on_loop_thread([](int) { handler_that_waits_on_a_lock(80); });
  auto found = Findings::take();
  BOOST_REQUIRE_EQUAL(found.size(), 1u);
  BOOST_TEST(found[0]["call"] == "pthread_mutex_lock");
  BOOST_TEST(found[0]["duration_ms"].get<int>() >= 30);
  BOOST_TEST(stack_has_function(found[0]["stack"], "handler_that_waits_on_a_lock"));
}

BOOST_AUTO_TEST_CASE(closing_the_polling_set_ends_the_loop) {
  // Two call sites: the one before the close is reported (the thread did run a loop), the one
  // after it is not. One site for both would prove nothing: a repeat is never reported.
  Findings::take();
  std::thread([] {
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    { events::PollingWait wait("epoll_wait", events::epoll_wait_kind(epfd), 0, nullptr); }
    handler_sleeps_before_the_close();
    events::fd_closing(epfd, nullptr);
    close(epfd);
    handler_sleeps_after_the_close();
  }).join();
  auto found = Findings::take();
  BOOST_REQUIRE_EQUAL(found.size(), 1u);
  BOOST_TEST(stack_has_function(found[0]["stack"], "handler_sleeps_before_the_close"));
}

BOOST_AUTO_TEST_SUITE_END()
