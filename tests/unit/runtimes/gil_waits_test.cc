// The GIL-wait counters (agent/runtimes/gil_waits.h): one slot per thread that waited, read by
// tid from another thread, freed when the thread ends.
#include <boost/test/unit_test.hpp>

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "agent/runtimes/gil_waits.h"

namespace gil_waits = loopsan::gil_waits;

BOOST_AUTO_TEST_SUITE(gil_waits_table)

BOOST_AUTO_TEST_CASE(a_thread_s_waits_add_up_and_its_slot_is_freed_when_it_ends) {
  std::atomic<pid_t> tid{0};
  std::atomic<int> step{0};
  std::thread t([&] {
    tid = static_cast<pid_t>(syscall(SYS_gettid));
    gil_waits::add(3000000);
    gil_waits::add(2000000);
    gil_waits::add(-5);  // a clock that went backwards adds nothing
    step = 1;
    while (step.load() != 2) std::this_thread::yield();
    gil_waits::thread_exiting();
  });
  while (step.load() != 1) std::this_thread::yield();
  int64_t ns = 0;
  BOOST_TEST(gil_waits::waited_ns(tid, &ns));
  BOOST_TEST(ns == 5000000);
  step = 2;
  t.join();
  BOOST_TEST(!gil_waits::waited_ns(tid, &ns));
}

BOOST_AUTO_TEST_CASE(a_thread_that_never_waited_has_no_slot) {
  int64_t ns = 0;
  BOOST_TEST(!gil_waits::waited_ns(static_cast<pid_t>(syscall(SYS_gettid)), &ns));
  BOOST_TEST(!gil_waits::waited_ns(0, &ns));
}

BOOST_AUTO_TEST_SUITE_END()
