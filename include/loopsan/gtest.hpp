// GoogleTest integration: every test fails when loopsan found something while it ran.
//
//   #include <loopsan/gtest.hpp>
//   int main(int argc, char** argv) {
//     ::testing::InitGoogleTest(&argc, argv);
//     loopsan::testing::add_gtest_listener();
//     return RUN_ALL_TESTS();
//   }
//
// (with gtest_main, call add_gtest_listener() from a static initializer instead:
// `static bool loopsan_listener = (loopsan::testing::add_gtest_listener(), true);`)
// and run the test program under loopsan (`loopsan run -- ./tests`, or loopsan_add_test).
// Each test is one loopsan test (loopsan_test_begin/end): findings raised while it runs, on any
// thread, and repeats of earlier ones fail it, with loopsan's excerpt in the failure message.
//
// The failure is added in OnTestEnd, which GoogleTest calls while the test is still the current
// one and before its result printer's OnTestEnd (end events go to listeners in reverse order),
// after the fixture's TearDown and destructor. (A listener may not add failures in
// OnTestPartResult.) Header-only; nothing to link but GoogleTest. Without loopsan every test
// passes unchecked and the listener says so once on stderr (LOOPSAN_REQUIRED=1 fails them).
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "loopsan/loopsan.h"
#include "loopsan/testing.hpp"

namespace loopsan::testing {

class GTestListener : public ::testing::EmptyTestEventListener {
 public:
  void OnTestProgramStart(const ::testing::UnitTest&) override {
    if (!loopsan_active()) fprintf(stderr, "%s\n", not_active_message());
  }
  void OnTestStart(const ::testing::TestInfo& test) override {
    std::string name = std::string(test.test_suite_name()) + "." + test.name();
    loopsan_test_begin(name.c_str());
  }
  void OnTestEnd(const ::testing::TestInfo&) override {
    if (!loopsan_active()) {
      if (required()) ADD_FAILURE() << not_active_message();
      return;
    }
    unsigned long long findings = loopsan_test_end();
    if (findings != 0) ADD_FAILURE() << failure_message(findings);
  }
};

// Appends the listener (GoogleTest owns it).
inline void add_gtest_listener() {
  ::testing::UnitTest::GetInstance()->listeners().Append(new GTestListener);
}

}  // namespace loopsan::testing
