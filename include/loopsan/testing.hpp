// Helpers for test harnesses that run their code under loopsan and want a test to fail on
// findings, without parsing reports.
#pragma once

#include "loopsan/loopsan.h"

namespace loopsan::testing {

// Counts the findings that appear while it lives:
//
//   loopsan::testing::FindingsDelta delta;
//   run_the_code_under_test();
//   EXPECT_EQ(delta.count(), 0u);
//
// Without loopsan the count is always 0 (check loopsan_active() if that matters).
class FindingsDelta {
 public:
  FindingsDelta() : start_(loopsan_findings_count()) {}
  unsigned long long count() const { return loopsan_findings_count() - start_; }

 private:
  unsigned long long start_;
};

}  // namespace loopsan::testing
