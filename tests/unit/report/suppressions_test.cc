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

BOOST_AUTO_TEST_CASE(frame_rules_name_a_function_in_a_file) {
  std::vector<std::string> problems, warnings;
  auto rules = parse(
      "blocking-call@*/app.py:run\n"
      "*@server:handle(int)   # native: the module's file name\n"
      "blocking-call@node\\:internal/*:*\n"
      "blocking-call@:run\n"
      "*:*/node_modules/@scope/*\n",
      problems, warnings);
  BOOST_REQUIRE(rules.size() == 4u);
  BOOST_TEST(rules[0].kind == "blocking-call");
  BOOST_TEST(rules[0].file == "*/app.py");
  BOOST_TEST(rules[0].pattern == "run");
  BOOST_TEST(rules[1].kind == "*");
  BOOST_TEST(rules[1].file == "server");
  BOOST_TEST(rules[1].pattern == "handle(int)");
  BOOST_TEST(rules[2].file == "node\\:internal/*");  // the escaped colon is the file's
  BOOST_TEST(rules[2].pattern == "*");
  // An '@' after the colon is the pattern's, as it always was.
  BOOST_TEST(rules[3].file.empty());
  BOOST_TEST(rules[3].pattern == "*/node_modules/@scope/*");
  BOOST_REQUIRE(problems.size() == 1u);
  BOOST_TEST(problems[0] == "line 4: empty file glob after '@'; skipped");
}

BOOST_AUTO_TEST_CASE(a_frame_rule_needs_function_and_file_in_one_frame) {
  using loopsan::suppressions::matches;
  std::vector<std::string> problems, warnings;
  auto rules = parse("blocking-call@*/app.py:run\nblocking-call@server:handle\nblocking-call:run\n",
                     problems, warnings);
  BOOST_REQUIRE(rules.size() == 3u);
  loopsan::Finding in_app;
  in_app.python_stacks.push_back(
      {"python_stack", {{"run", "/src/app.py", 7, false}, {"main", "/src/jobs.py", 3, false}}});
  loopsan::Finding in_jobs;
  in_jobs.python_stacks.push_back(
      {"python_stack", {{"run", "/src/jobs.py", 5, false}, {"main", "/src/app.py", 9, false}}});
  loopsan::suppressions::NativeStacks none;
  BOOST_TEST(matches(rules[0], in_app, none));
  // `run` and app.py are both in this stack, but not in one frame.
  BOOST_TEST(!matches(rules[0], in_jobs, none));
  BOOST_TEST(matches(rules[2], in_jobs, none));  // the bare name is broader

  loopsan::Frame handle{0x1000, "/opt/bin/server", 0x100, "", "handle"};
  loopsan::Frame other{0x2000, "/usr/lib/libother.so", 0x200, "", "handle"};
  loopsan::suppressions::NativeStacks in_server = {{"stack", {handle}}};
  loopsan::suppressions::NativeStacks in_library = {{"stack", {other}}};
  loopsan::Finding native;
  BOOST_TEST(matches(rules[1], native, in_server));
  BOOST_TEST(!matches(rules[1], native, in_library));
  native.kind = loopsan::Kind::kLoopStall;
  BOOST_TEST(!matches(rules[1], native, in_server));  // another kind
}

BOOST_AUTO_TEST_SUITE_END()
