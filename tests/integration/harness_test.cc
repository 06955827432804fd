// The test-harness integrations, each through a consumer project built against an installed
// loopsan (tests/consumer_harness): Boost.Test's global fixture, GoogleTest's listener and
// loopsan_add_test. In one process, only the test cases that raise a finding fail, with the
// finding's kind and guilty function in their failure message; a repeat fails its case too.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

#include "tests/support/harness.h"

using namespace loopsan::test;

namespace {

struct Consumer {
  std::string prefix;
  std::string build;
  std::string cli;
};

// Installs loopsan and builds the consumer project once for every case of the suite.
const Consumer& consumer() {
  static Consumer c = [] {
    Consumer made;
    made.prefix = make_temp_dir();
    RunResult inst =
        run({.argv = {"cmake", "--install", LOOPSAN_TEST_BINARY_DIR, "--prefix", made.prefix},
             .preload = false});
    BOOST_REQUIRE_MESSAGE(inst.exit_code == 0, inst.describe());
    made.build = make_temp_dir();
    RunResult conf =
        run({.argv = {"cmake", "-S", LOOPSAN_TEST_CONSUMER_HARNESS_DIR, "-B", made.build,
                      "-DCMAKE_PREFIX_PATH=" + made.prefix, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"},
             .preload = false});
    BOOST_REQUIRE_MESSAGE(conf.exit_code == 0, conf.describe());
    RunResult make = run({.argv = {"cmake", "--build", made.build, "-j2"}, .preload = false});
    BOOST_REQUIRE_MESSAGE(make.exit_code == 0, make.describe());
    made.cli = made.prefix + "/bin/loopsan";
    return made;
  }();
  return c;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The text from `start` to the next line that starts with `stop` (or the end).
std::string section(const std::string& text, const std::string& start, const std::string& stop) {
  size_t from = text.find(start);
  if (from == std::string::npos) return {};
  size_t to = text.find("\n" + stop, from + start.size());
  return text.substr(from, to == std::string::npos ? std::string::npos : to - from);
}

// The "test" lines of the reports in `dir`.
std::vector<nlohmann::json> test_lines(const std::string& dir) {
  std::vector<nlohmann::json> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line);
      if (j["type"] == "test") out.push_back(j);
    }
  }
  return out;
}

// The report: the blocking call written once, attributed to `buggy`; a test line for `buggy`
// and `again` (its repeat), and for `lost` when the program has that case.
void check_report(const std::string& dir, const std::string& buggy, const std::string& again,
                  const std::string& lost = "") {
  auto reports = read_reports(dir);
  BOOST_REQUIRE_EQUAL(reports.size(), 1u);
  const auto& findings = reports[0].findings;
  BOOST_REQUIRE_EQUAL(findings.size(), lost.empty() ? 1u : 2u);
  const auto& f = findings[0];
  BOOST_TEST(f["kind"] == "blocking-call");
  BOOST_TEST(f["test"] == buggy, f.dump());
  auto tests = test_lines(dir);
  BOOST_REQUIRE_EQUAL(tests.size(), lost.empty() ? 2u : 3u);
  BOOST_TEST(tests[0]["name"] == buggy);
  BOOST_TEST(tests[1]["name"] == again);
  BOOST_TEST(tests[1]["ids"][f["id"].get<std::string>()] == 1);
  if (!lost.empty()) {
    BOOST_TEST(findings[1]["kind"] == "unretrieved-exception");
    BOOST_TEST(findings[1]["test"] == lost);
    BOOST_TEST(tests[2]["name"] == lost);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(harness)

BOOST_AUTO_TEST_CASE(boost_test_fixture_fails_only_the_cases_that_raised_findings) {
  const Consumer& c = consumer();
  std::string dir = make_temp_dir();
  RunResult r = run({.argv = {c.cli, "run", "--report-dir", dir, "--", c.build + "/boost_tests",
                              "--report_level=detailed"},
                     .preload = false});
  std::string out = r.out + r.err;
  BOOST_TEST(r.exit_code != 0, r.describe());
  BOOST_TEST(has(out,
                 "error: in \"harness/buggy\": loopsan: 1 finding raised during this test\n"
                 "loopsan: blocking-call: usleep("),
             out);
  BOOST_TEST(has(out, "  at consumer_handler_that_sleeps()"), out);
  BOOST_TEST(has(out,
                 "error: in \"harness/buggy_again\": loopsan: 1 finding raised during "
                 "this test\nloopsan: blocking-call: usleep("),
             out);
  BOOST_TEST(has(out, ", a repeat of an earlier finding)"), out);
  // A second kind, on the test's own thread; its guilty frame is where it was thrown.
  BOOST_TEST(has(out,
                 "error: in \"harness/lost_exception\": loopsan: 1 finding raised during "
                 "this test\nloopsan: unretrieved-exception: std::runtime_error"),
             out);
  BOOST_TEST(has(out, "  at consumer_task_that_throws()"), out);
  BOOST_TEST(has(out, "Test case \"harness/lost_exception\" has failed"), out);
  for (const char* clean : {"clean_before", "clean_between", "clean_after"}) {
    BOOST_TEST(!has(out, std::string("in \"harness/") + clean + "\""), out);
    BOOST_TEST(has(out, std::string("Test case \"harness/") + clean + "\" has passed"), out);
  }
  BOOST_TEST(has(out, "Test case \"harness/buggy\" has failed"), out);
  BOOST_TEST(has(out, "Test case \"harness/buggy_again\" has failed"), out);
  check_report(dir, "harness/buggy", "harness/buggy_again", "harness/lost_exception");
}

BOOST_AUTO_TEST_CASE(gtest_listener_fails_only_the_tests_that_raised_findings) {
  const Consumer& c = consumer();
  std::string dir = make_temp_dir();
  RunResult r = run({.argv = {c.cli, "run", "--report-dir", dir, "--", c.build + "/gtest_tests"},
                     .preload = false});
  std::string out = r.out + r.err;
  BOOST_TEST(r.exit_code != 0, r.describe());
  std::string buggy = section(out, "[ RUN      ] Harness.Buggy\n", "[ RUN");
  BOOST_TEST(has(buggy,
                 "Failure\nFailed\nloopsan: 1 finding raised during this test\n"
                 "loopsan: blocking-call: usleep("),
             out);
  BOOST_TEST(has(buggy, "  at consumer_handler_that_sleeps()"), out);
  BOOST_TEST(has(buggy, "[  FAILED  ] Harness.Buggy ("), out);
  std::string again = section(out, "[ RUN      ] Harness.BuggyAgain\n", "[ RUN");
  BOOST_TEST(has(again, ", a repeat of an earlier finding)"), out);
  BOOST_TEST(has(again, "[  FAILED  ] Harness.BuggyAgain ("), out);
  for (const char* clean : {"CleanBefore", "CleanBetween", "CleanAfter"}) {
    BOOST_TEST(has(out, std::string("[       OK ] Harness.") + clean + " ("), out);
  }
  BOOST_TEST(has(out, "2 FAILED TESTS"), out);
  check_report(dir, "Harness.Buggy", "Harness.BuggyAgain");
}

BOOST_AUTO_TEST_CASE(without_loopsan_the_integrations_pass_and_say_so_once) {
  const Consumer& c = consumer();
  for (const char* program : {"/boost_tests", "/gtest_tests"}) {
    RunResult r = run({.argv = {c.build + program}, .preload = false});
    BOOST_TEST(r.exit_code == 0, r.describe());
    std::string said = "loopsan: not running under loopsan";
    size_t at = r.err.find(said);
    BOOST_TEST(at != std::string::npos, r.describe());
    BOOST_TEST(r.err.find(said, at + 1) == std::string::npos, r.describe());
    // LOOPSAN_REQUIRED=1: a run that checks nothing fails.
    RunResult required =
        run({.argv = {c.build + program}, .preload = false, .env = {{"LOOPSAN_REQUIRED", "1"}}});
    BOOST_TEST(required.exit_code != 0, required.describe());
  }
}

BOOST_AUTO_TEST_CASE(loopsan_add_test_fails_the_ctest_test_with_findings) {
  const Consumer& c = consumer();
  // Twice: each run starts with an empty report directory, so the second shows one report.
  for (int round = 0; round < 2; ++round) {
    RunResult r =
        run({.argv = {"ctest", "--test-dir", c.build, "--output-on-failure"}, .preload = false});
    BOOST_TEST(r.exit_code != 0, r.describe());
    std::string passed = section(r.out, "handler_computes ", "    Start");
    BOOST_TEST(has(passed, "   Passed"), r.out);
    std::string failed = section(r.out, "handler_sleeps ", "    Start");
    BOOST_TEST(has(failed, "***Failed"), r.out);
    // `loopsan run`'s summary, with the guilty line symbolized from the program's debug info,
    BOOST_TEST(has(failed, "==loopsan== 1 finding (blocking-call: 1) in 1 report"), r.out);
    BOOST_TEST(has(failed, "==loopsan==     at consumer_handler_that_sleeps"), r.out);
    BOOST_TEST(has(failed, "(loop.h:"), r.out);
    // then the text report, stacks included.
    BOOST_TEST(has(failed, "Native stack:\n    #0 in consumer_handler_that_sleeps"), r.out);
    BOOST_TEST(has(failed, "SUMMARY: loopsan: 1 finding (blocking-call: 1) in 1 report"), r.out);
    BOOST_TEST(has(r.out, "1 tests failed out of 2"), r.out);
  }
}

BOOST_AUTO_TEST_SUITE_END()
