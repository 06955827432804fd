#include <boost/test/unit_test.hpp>

#include "agent/report/suppressions.h"

using loopsan::suppressions::parse;

BOOST_AUTO_TEST_SUITE(suppressions)

BOOST_AUTO_TEST_CASE(rules_comments_and_blank_lines) {
  std::vector<std::string> problems;
  auto rules = parse(
      "# accepted for now\n"
      "\n"
      "blocking-call: legacy_client::*   # being replaced\n"
      "*:*/vendor/*.py\n"
      "unretrieved-exception:libthird.so",
      problems);
  BOOST_TEST(problems.empty());
  BOOST_REQUIRE(rules.size() == 3u);
  BOOST_TEST(rules[0].kind == "blocking-call");
  BOOST_TEST(rules[0].pattern == "legacy_client::*");
  BOOST_TEST(rules[0].line == 3);
  BOOST_TEST(rules[1].kind == "*");
  BOOST_TEST(rules[2].pattern == "libthird.so");
}

BOOST_AUTO_TEST_CASE(bad_lines_are_reported_and_skipped) {
  std::vector<std::string> problems;
  auto rules = parse("no colon here\nblocking-cal:x\nloop-stall:\nhung-wait:ok\n", problems);
  BOOST_REQUIRE(rules.size() == 1u);
  BOOST_TEST(rules[0].kind == "hung-wait");
  BOOST_REQUIRE(problems.size() == 3u);
  BOOST_TEST(problems[0].find("line 1") != std::string::npos);
  BOOST_TEST(problems[1].find("unknown finding kind 'blocking-cal'") != std::string::npos);
  BOOST_TEST(problems[2].find("empty pattern") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
