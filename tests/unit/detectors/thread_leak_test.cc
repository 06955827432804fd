// The thread-leak detector, driven through the event API: threads created the way the
// pthread_create() wrapper announces them, parked for real, and the exit check run by hand.
#include <boost/test/unit_test.hpp>

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "agent/detectors/thread_leak.h"
#include "agent/events.h"
#include "agent/stacks/parked_stack.h"
#include "tests/support/stacks.h"
#include "tests/unit/detectors/findings.h"

namespace events = loopsan::events;
using loopsan::test::Findings;
using loopsan::test::stack_has_function;

namespace {

int never_written[2];
std::atomic<pid_t> parked_tid{0};

struct Start {
  events::ThreadCreation creation;
};

__attribute__((noinline)) void* read_forever(void* raw) {
  auto* start = static_cast<Start*>(raw);
  events::thread_started(0, start->creation);
  parked_tid = loopsan::current_tid();
  char c;
  ssize_t n = read(never_written[0], &c, 1);
  asm volatile("" ::: "memory");
  events::thread_exiting();
  return reinterpret_cast<void*>(n);
}

// As the shim's wrapper does it: announce, create, file.
__attribute__((noinline)) pthread_t start_reader(Start* start) {
  start->creation = events::thread_creating(nullptr);
  pthread_t t;
  int rc = pthread_create(&t, nullptr, read_forever, start);
  events::thread_created(start->creation, rc, t);
  asm volatile("" ::: "memory");
  return t;
}

void wait_until_parked() {
  while (parked_tid == 0) std::this_thread::yield();
  for (int i = 0; i < 400; ++i) {
    if (loopsan::parked::read_syscall(parked_tid).nr == SYS_read) return;
    usleep(5000);
  }
}

void release(pthread_t t) {
  BOOST_TEST(write(never_written[1], "x", 1) == 1);
  pthread_join(t, nullptr);
  events::thread_joined(t);
  parked_tid = 0;
}

void check_at_exit() {
  loopsan::ReentryGuard guard;  // as at exit
  loopsan::thread_leak::check_at_exit();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(thread_leaks)

BOOST_AUTO_TEST_CASE(a_joinable_thread_still_running_is_reported_with_both_stacks) {
  BOOST_REQUIRE(pipe(never_written) == 0);
  Findings::take();
  Start start;
  pthread_t t = start_reader(&start);
  wait_until_parked();
  pid_t tid = parked_tid;
  check_at_exit();
  auto findings = Findings::take();
  BOOST_REQUIRE_EQUAL(findings.size(), 1u);
  const auto& f = findings[0];
  BOOST_TEST(f["kind"] == "thread-leak");
  BOOST_TEST(stack_has_function(f["created_stack"], "start_reader"), f.dump());
  BOOST_REQUIRE_EQUAL(f["threads"].size(), 1u);
  const auto& thread = f["threads"][0];
  BOOST_TEST(thread["tid"] == tid);
  BOOST_TEST(thread["state"] == "parked");
  BOOST_TEST(thread["waiting_in"] == "read");
  BOOST_TEST(thread["waiting_for"]["fd"] == never_written[0]);
  BOOST_TEST(stack_has_function(thread["stack"], "read_forever"), thread.dump());
  release(t);
  // Joined: nothing left to report.
  check_at_exit();
  BOOST_TEST(Findings::take().empty());
  close(never_written[0]);
  close(never_written[1]);
}

BOOST_AUTO_TEST_CASE(a_thread_detached_right_after_its_creation_is_not_a_leak) {
  BOOST_REQUIRE(pipe(never_written) == 0);
  Findings::take();
  Start start;
  pthread_t t = start_reader(&start);
  pthread_detach(t);
  events::thread_detached(t);  // before it may have run at all, as CPython does
  wait_until_parked();
  check_at_exit();
  BOOST_TEST(Findings::take().empty());
  // Let it end (detached: nobody joins it).
  BOOST_TEST(write(never_written[1], "x", 1) == 1);
  while (loopsan::parked::read_syscall(parked_tid).state !=
         loopsan::parked::Syscall::State::kGone) {
    usleep(1000);
  }
  parked_tid = 0;
  close(never_written[0]);
  close(never_written[1]);
}

BOOST_AUTO_TEST_SUITE_END()
