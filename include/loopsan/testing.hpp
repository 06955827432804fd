// Helpers for test harnesses that run their code under loopsan and want a test to fail on
// findings, without parsing reports.
#pragma once

#include <stdlib.h>

#include <string>

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

// The excerpt of the last ended test's findings (loopsan_test_report), "" without loopsan.
inline std::string test_report() {
  std::string text(loopsan_test_report(nullptr, 0), '\0');
  if (text.empty()) return text;
  // Another thread's loopsan_test_begin() may shorten the text between the two calls.
  size_t written = loopsan_test_report(&text[0], text.size() + 1);
  if (written < text.size()) text.resize(written);
  return text;
}

// A failure message for a test that raised `findings` (loopsan_test_end's count).
inline std::string failure_message(unsigned long long findings) {
  std::string text = "loopsan: " + std::to_string(findings) +
                     (findings == 1 ? " finding" : " findings") + " raised during this test\n";
  text += test_report();
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// Said once by a harness integration that finds no loopsan in the process: its tests pass
// unchecked. LOOPSAN_REQUIRED=1 in the environment makes that a failure instead.
inline bool required() {
  const char* v = getenv("LOOPSAN_REQUIRED");
  return v != nullptr && v[0] == '1';
}
inline const char* not_active_message() {
  return "loopsan: not running under loopsan (run the tests with `loopsan run` or "
         "LD_PRELOAD=libloopsan.so): test cases are not checked for findings";
}

}  // namespace loopsan::testing
