#include <boost/test/unit_test.hpp>

#include "agent/report/suppressions.h"

using loopsan::suppressions::parse;

BOOST_AUTO_TEST_SUITE(suppressions)

BOOST_AUTO_TEST_CASE(rules_comments_and_blank_lines) {
  std::vector<std::string> problems, warnings;
  auto rules = parse(
      "# accepted for now\n"
      "\n"
      "blocking-call: legacy_client::*   # being replaced\n"
      "*:*/vendor/*.py\n"
      "unretrieved-exception:libthird.so",
      problems, warnings);
  BOOST_TEST(problems.empty());
  BOOST_TEST(warnings.empty());
  BOOST_REQUIRE(rules.size() == 3u);
  BOOST_TEST(rules[0].kind == "blocking-call");
  BOOST_TEST(rules[0].pattern == "legacy_client::*");
  BOOST_TEST(rules[0].line == 3);
  BOOST_TEST(rules[1].kind == "*");
  BOOST_TEST(rules[2].pattern == "libthird.so");
}

BOOST_AUTO_TEST_CASE(bad_lines_are_reported_and_skipped) {
  std::vector<std::string> problems, warnings;
  auto rules = parse("no colon here\nblocking-cal:x\nblocking-call:\nblocking-call:ok\n", problems,
                     warnings);
  BOOST_REQUIRE(rules.size() == 1u);
  BOOST_TEST(rules[0].pattern == "ok");
  BOOST_REQUIRE(problems.size() == 3u);
  BOOST_TEST(problems[0] == "line 1: 'no colon here' is not kind:pattern; skipped");
  BOOST_TEST(problems[1] == "line 2: unknown finding kind 'blocking-cal'; skipped");
  BOOST_TEST(problems[2] == "line 3: empty pattern; skipped");
  BOOST_TEST(warnings.empty());
}

BOOST_AUTO_TEST_CASE(rules_for_kinds_no_detector_emits_are_kept_with_a_warning) {
  std::vector<std::string> problems, warnings;
  auto rules = parse(
      "cross-thread-call:*pool*\n"
      "*:*/vendor/*\n"
      "loop-on-pool-thread:worker\n"
      "uncaught-exception:main\n",
      problems, warnings);
  BOOST_TEST(problems.empty());
  BOOST_REQUIRE(rules.size() == 4u);
  BOOST_TEST(rules[0].kind == "cross-thread-call");
  BOOST_TEST(rules[2].kind == "loop-on-pool-thread");
  BOOST_REQUIRE(warnings.size() == 2u);
  BOOST_TEST(warnings[0] ==
             "line 1: no detector emits kind 'cross-thread-call' yet; line 1 never matches");
  BOOST_TEST(warnings[1].find("line 3: no detector emits kind 'loop-on-pool-thread'") == 0u);
}

BOOST_AUTO_TEST_CASE(every_kind_name_parses_back) {
  for (int k = 0; k < static_cast<int>(loopsan::Kind::kCount); ++k) {
    auto kind = static_cast<loopsan::Kind>(k);
    BOOST_TEST((loopsan::kind_from_name(loopsan::kind_name(kind)) == kind));
  }
  BOOST_TEST((loopsan::kind_from_name("blocking-cal") == loopsan::Kind::kCount));
  BOOST_TEST(loopsan::kind_implemented(loopsan::Kind::kBlockingCall));
  BOOST_TEST(!loopsan::kind_implemented(loopsan::Kind::kCrossThreadCall));
  BOOST_TEST(loopsan::kind_implemented(loopsan::Kind::kGilContention));
  BOOST_TEST(loopsan::kind_implemented(loopsan::Kind::kPoolStarvation));
  BOOST_TEST(std::string(loopsan::kind_name(loopsan::Kind::kGilContention)) == "gil-contention");
}

BOOST_AUTO_TEST_SUITE_END()
