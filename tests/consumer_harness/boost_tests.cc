// Boost.Test with loopsan's global fixture: only the cases that raise a finding fail.
#define BOOST_TEST_MODULE consumer_harness
#include <boost/test/unit_test.hpp>
#include <loopsan/boost_test.hpp>

#include <future>

#include "loop.h"

using loopsan::testing::BoostTestFixture;
BOOST_TEST_GLOBAL_FIXTURE(BoostTestFixture);

BOOST_AUTO_TEST_SUITE(harness)

BOOST_AUTO_TEST_CASE(clean_before) {
  LoopThread::shared().run_on_loop(consumer_handler_that_computes);
  BOOST_TEST(true);
}

BOOST_AUTO_TEST_CASE(buggy) {
  LoopThread::shared().run_on_loop(consumer_handler_that_sleeps);
  BOOST_TEST(true);
}

BOOST_AUTO_TEST_CASE(clean_between) {
  LoopThread::shared().run_on_loop(consumer_handler_that_computes);
  BOOST_TEST(true);
}

// The same bug again: a repeat of the finding above, and it fails this case too.
BOOST_AUTO_TEST_CASE(buggy_again) {
  LoopThread::shared().run_on_loop(consumer_handler_that_sleeps);
  BOOST_TEST(true);
}

BOOST_AUTO_TEST_CASE(lost_exception) {
  { auto dropped = std::async(std::launch::async, consumer_task_that_throws); }
  BOOST_TEST(true);
}

BOOST_AUTO_TEST_CASE(clean_after) {
  LoopThread::shared().run_on_loop(consumer_handler_that_computes);
  BOOST_TEST(true);
}

BOOST_AUTO_TEST_SUITE_END()
