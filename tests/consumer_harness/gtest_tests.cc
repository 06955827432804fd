// GoogleTest with loopsan's listener: only the tests that raise a finding fail.
#include <gtest/gtest.h>
#include <loopsan/gtest.hpp>

#include "loop.h"

TEST(Harness, CleanBefore) {
  LoopThread::shared().run_on_loop(consumer_handler_that_computes);
}

TEST(Harness, Buggy) {
  LoopThread::shared().run_on_loop(consumer_handler_that_sleeps);
}

TEST(Harness, CleanBetween) {
  LoopThread::shared().run_on_loop(consumer_handler_that_computes);
}

// The same bug again: a repeat of the finding above, and it fails this test too.
TEST(Harness, BuggyAgain) {
  LoopThread::shared().run_on_loop(consumer_handler_that_sleeps);
}

TEST(Harness, CleanAfter) {
  LoopThread::shared().run_on_loop(consumer_handler_that_computes);
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  loopsan::testing::add_gtest_listener();
  return RUN_ALL_TESTS();
}
