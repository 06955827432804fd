// The rules `loopsan report --suppressions` writes, read back by the agent's parser and
// matched as the agent matches them: every hostile name silences its own frame, not another.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "agent/report/suppressions.h"
#include "tools/loopsan/suppression_rules.h"

using nlohmann::json;

namespace {

const std::vector<std::string>& hostile_names() {
  static const std::vector<std::string> names = {
      "run",
      "ns::" + std::string(10000, 'x') + "()",
      "app::handler<std::basic_string<char> >::operator[]#1*?{lambda()#1}::operator()() const "
      "[abi:cxx11]",
      "back\\slash: colon",
      " edges ",
      "tab\there\nnewline",
      "\xE2\x80\xAE"
      "evil\xE2\x80\xAC \xD7\x90 \xF0\x9F\x94\xA5",
      "sch\xEF\xBF\xBD"
      "dule",
  };
  return names;
}

// The one rule generated for a finding, parsed back.
loopsan::suppressions::Rule parsed(const json& finding) {
  loopsan::cli::SourceLocations lines;
  std::string rule = loopsan::cli::suppression_rule(finding, lines);
  BOOST_TEST_REQUIRE(!rule.empty());
  BOOST_TEST(rule.find('\n') == std::string::npos);
  std::vector<std::string> problems, warnings;
  auto rules = loopsan::suppressions::parse(rule + "\n", problems, warnings);
  BOOST_TEST(problems.empty(), rule);
  BOOST_TEST_REQUIRE(rules.size() == 1u, rule);
  return rules[0];
}

}  // namespace

BOOST_AUTO_TEST_SUITE(suppression_rules)

BOOST_AUTO_TEST_CASE(python_rules_match_their_frame_only) {
  for (const std::string& name : hostile_names()) {
    for (const std::string& file : {std::string("/src/app.py"), std::string("/src/my app:#1.py")}) {
      json f = {{"kind", "blocking-call"},
                {"python_stack", {{{"function", name}, {"file", file}, {"line", 3}}}}};
      auto rule = parsed(f);
      BOOST_TEST(rule.file.size() > 0u);
      loopsan::Finding same;
      same.python_stacks.push_back({"python_stack", {{name, file, 3, false}}});
      loopsan::suppressions::NativeStacks none;
      BOOST_TEST(loopsan::suppressions::matches(rule, same, none), name << " in " << file);
      loopsan::Finding other_file;
      other_file.python_stacks.push_back({"python_stack", {{name, "/src/jobs.py", 3, false}}});
      BOOST_TEST(!loopsan::suppressions::matches(rule, other_file, none), name);
      loopsan::Finding other_name;
      other_name.python_stacks.push_back({"python_stack", {{name + "_2", file, 3, false}}});
      BOOST_TEST(!loopsan::suppressions::matches(rule, other_name, none), name);
    }
  }
}

BOOST_AUTO_TEST_CASE(native_rules_name_the_symbol_and_the_module) {
  for (const std::string& name : hostile_names()) {
    json f = {{"kind", "unretrieved-exception"},
              {"throw_stack",
               {{{"ip", "0x1"},
                 {"module", "/lib/x86_64-linux-gnu/libstdc++.so.6"},
                 {"offset", "0x1"},
                 {"function", "__cxa_throw"}},
                {{"ip", "0x2"},
                 {"module", "/opt/my app/bin/server"},
                 {"offset", "0x2"},
                 {"function", name}}}}};
    auto rule = parsed(f);
    BOOST_TEST(rule.kind == "unretrieved-exception");
    BOOST_TEST(rule.file == "server");
    loopsan::Finding finding;
    finding.kind = loopsan::Kind::kUnretrievedException;
    loopsan::Frame mine{0x2, "/opt/my app/bin/server", 0x2, "", name};
    loopsan::Frame elsewhere{0x2, "/opt/my app/bin/client", 0x2, "", name};
    BOOST_TEST(loopsan::suppressions::matches(rule, finding, {{"throw_stack", {mine}}}), name);
    BOOST_TEST(!loopsan::suppressions::matches(rule, finding, {{"throw_stack", {elsewhere}}}));
  }
}

// GCC names a split function's parts "f(int) [clone .cold]": the next build may split it
// elsewhere, so the rule matches the function and every clone of it, not another function.
BOOST_AUTO_TEST_CASE(native_rules_match_every_clone_of_the_function) {
  json f = {{"kind", "unretrieved-exception"},
            {"throw_stack",
             {{{"ip", "0x2"},
               {"module", "/srv/bin/server"},
               {"offset", "0x2"},
               {"function", "resize_image(int) [clone .cold]"}}}}};
  auto rule = parsed(f);
  loopsan::Finding finding;
  finding.kind = loopsan::Kind::kUnretrievedException;
  for (const char* name : {"resize_image(int) [clone .cold]", "resize_image(int)",
                           "resize_image(int) [clone .isra.0]"}) {
    loopsan::Frame frame{0x2, "/srv/bin/server", 0x2, "", name};
    BOOST_TEST(loopsan::suppressions::matches(rule, finding, {{"throw_stack", {frame}}}), name);
  }
  loopsan::Frame other{0x2, "/srv/bin/server", 0x2, "", "resize_images(int)"};
  BOOST_TEST(!loopsan::suppressions::matches(rule, finding, {{"throw_stack", {other}}}));
}

BOOST_AUTO_TEST_CASE(javascript_rules_skip_node_and_anonymous_frames) {
  json f = {{"kind", "blocking-call"},
            {"js_stack",
             {{{"function", "readFileSync"}, {"script", "node:fs"}, {"line", 1}},
              {{"function", ""}, {"script", "file:///srv/app/a.js"}, {"line", 2}},
              {{"function", "handler"}, {"script", "file:///srv/app/b.js"}, {"line", 3}}}}};
  loopsan::cli::SourceLocations lines;
  BOOST_TEST(loopsan::cli::suppression_rule(f, lines) == "blocking-call@*/b.js:handler");
  auto rule = parsed(f);
  loopsan::Finding finding;
  finding.js_stacks.push_back({"js_stack", {{"handler", "file:///srv/app/b.js", 3, 1}}});
  BOOST_TEST(loopsan::suppressions::matches(rule, finding, {}));
}

BOOST_AUTO_TEST_CASE(without_a_frame_of_the_users_the_innermost_outside_loopsan) {
  json f = {{"kind", "blocking-call"},
            {"stack",
             {{{"ip", "0x1"},
               {"module", "/usr/lib/libloopsan.so"},
               {"offset", "0x1"},
               {"function", "loopsan::capture"}},
              {{"ip", "0x2"},
               {"module", "/lib/x86_64-linux-gnu/libc.so.6"},
               {"offset", "0x2"},
               {"function", "__nanosleep"}}}}};
  loopsan::cli::SourceLocations lines;
  bool fallback = false;
  BOOST_TEST(loopsan::cli::suppression_rule(f, lines, &fallback) ==
             "blocking-call@libc.so.6:__nanosleep");
  BOOST_TEST(fallback);
  BOOST_TEST(loopsan::cli::suppression_rule(json{{"kind", "blocking-call"}}, lines).empty());
}

BOOST_AUTO_TEST_SUITE_END()
