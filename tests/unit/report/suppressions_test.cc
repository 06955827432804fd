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

BOOST_AUTO_TEST_CASE(a_rule_for_every_kind_of_the_contract_parses_without_warning) {
  // Since issue 10 a detector emits every kind of DESIGN.md's table: none is "not yet", and a
  // rule for any of them is kept with no warning.
  std::string text;
  for (int k = 0; k < static_cast<int>(loopsan::Kind::kCount); ++k) {
    text += std::string(loopsan::kind_name(static_cast<loopsan::Kind>(k))) + ":*worker*\n";
  }
  std::vector<std::string> problems, warnings;
  auto rules = parse(text, problems, warnings);
  BOOST_TEST(problems.empty());
  BOOST_TEST(warnings.empty());
  BOOST_REQUIRE(rules.size() == static_cast<size_t>(loopsan::Kind::kCount));
  BOOST_TEST(rules.back().kind == "gil-contention");
}

BOOST_AUTO_TEST_CASE(every_kind_name_parses_back) {
  for (int k = 0; k < static_cast<int>(loopsan::Kind::kCount); ++k) {
    auto kind = static_cast<loopsan::Kind>(k);
    BOOST_TEST((loopsan::kind_from_name(loopsan::kind_name(kind)) == kind));
  }
  BOOST_TEST((loopsan::kind_from_name("blocking-cal") == loopsan::Kind::kCount));
  BOOST_TEST(loopsan::kind_implemented(loopsan::Kind::kBlockingCall));
  for (int k = 0; k < static_cast<int>(loopsan::Kind::kCount); ++k) {
    BOOST_TEST(loopsan::kind_implemented(static_cast<loopsan::Kind>(k)));
  }
  BOOST_TEST(loopsan::kind_implemented(loopsan::Kind::kGilContention));
  BOOST_TEST(loopsan::kind_implemented(loopsan::Kind::kPoolStarvation));
  BOOST_TEST(std::string(loopsan::kind_name(loopsan::Kind::kGilContention)) == "gil-contention");
}

BOOST_AUTO_TEST_SUITE_END()
