// The selftest's verdict on a canary, on hand-made reports: the ways a detector can be broken
// that a working build never shows (a finding at the wrong place, a wrong call, a crash, a
// detector firing on a clean canary, hooks that were not installed).
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <nlohmann/json.hpp>

#include "tools/loopsan/canary_verdict.h"

using namespace loopsan::cli;
using nlohmann::json;

namespace {

const Canary kBlocking{Runtime::Native, "blocking-call",
                       "blocking-call", "canary_blocking_sleep_on_loop",
                       "nanosleep",     End::Exits};
const Canary kClean{Runtime::Python, "clean", "", "", "", End::Exits};
const Canary kStall{Runtime::Native, "loop-stall", "loop-stall", "canary_stall_busy_on_loop", "",
                    End::Exits};

Ending exited(int status = 0) {
  Ending e;
  e.exit_status = status;
  return e;
}

Report report(std::vector<json> findings, json hooks = json::object(),
              json options = json::object()) {
  Report r;
  r.start = {{"type", "start"}, {"hooks", hooks}, {"options", options}};
  r.findings = std::move(findings);
  return r;
}

json finding(const std::string& kind, const std::string& function, const std::string& call = "") {
  json f = {
      {"type", "finding"},
      {"kind", kind},
      {"message", kind + " here"},
      {"stack", json::array({{{"ip", "0x1"}, {"module", "/srv/app"}, {"function", function}}})}};
  if (!call.empty()) f["call"] = call;
  return f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(canary_verdict)

BOOST_AUTO_TEST_CASE(names_function_matches_whole_identifiers_at_any_depth) {
  json f = {{"threads", json::array({{{"python_stack", json::array({{{"function", "a"}}})}}})},
            {"stack", json::array({{{"function", "(anonymous namespace)::canary_x(int)"}}})}};
  BOOST_TEST(names_function(f, "a"));
  BOOST_TEST(names_function(f, "canary_x"));
  BOOST_TEST(!names_function(f, "canary"));  // a prefix of a name is not the name
  BOOST_TEST(!names_function(f, "x(int)"));  // nor is a suffix
}

BOOST_AUTO_TEST_CASE(live_when_the_kind_the_frame_and_the_call_are_right) {
  Verdict v =
      judge(kBlocking, exited(),
            {report({finding("blocking-call", "canary_blocking_sleep_on_loop()", "nanosleep")})});
  BOOST_TEST(v.live, v.why);
  BOOST_TEST(v.message == "blocking-call here");
}

BOOST_AUTO_TEST_CASE(each_way_to_be_broken_says_why) {
  auto why = [](const Canary& c, const Ending& e, std::vector<Report> reports) {
    Verdict v = judge(c, e, reports);
    BOOST_TEST(!v.live);
    return v.why;
  };
  auto right = finding("blocking-call", "canary_blocking_sleep_on_loop", "nanosleep");
  BOOST_TEST(why(kBlocking, exited(), {report({})}) == "no finding");
  BOOST_TEST(why(kBlocking, exited(), {report({finding("loop-stall", "x")})}) ==
             "no finding; other kinds: loop-stall");
  BOOST_TEST(
      why(kBlocking, exited(), {report({finding("blocking-call", "elsewhere", "nanosleep")})})
          .rfind("wrong frame: no canary_blocking_sleep_on_loop in its stacks; it points at "
                 "elsewhere",
                 0) == 0u);
  BOOST_TEST(why(kBlocking, exited(),
                 {report({finding("blocking-call", "canary_blocking_sleep_on_loop", "usleep")})}) ==
             "wrong call: usleep, not nanosleep");
  BOOST_TEST(why(kBlocking, exited(), {}) == "report missing (the shim did not load)");
  Ending crashed;
  crashed.signal = SIGSEGV;
  BOOST_TEST(why(kBlocking, crashed, {report({right})}) == "crashed with SIGSEGV");
  Ending late;
  late.timed_out = true;
  late.signal = SIGKILL;
  late.seconds = 20;
  BOOST_TEST(why(kBlocking, late, {report({right})}) == "timed out after 20.0 s");
  // An option that turned the detector off, and a canary that hardly ran, are named.
  BOOST_TEST(why(kStall, exited(3), {report({}, {}, {{"stall_threshold_ms", 0}})}) ==
             "no finding (stall_threshold_ms=0)");
  BOOST_TEST(why(kStall, exited(4), {report({})}).find("under a tenth of a CPU") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_clean_canary_with_any_finding_is_a_false_positive) {
  BOOST_TEST(judge(kClean, exited(), {report({})}).live);
  Verdict v = judge(kClean, exited(), {report({finding("hung-wait", "wait")})});
  BOOST_TEST(!v.live);
  BOOST_TEST(v.why.rfind("false positive: hung-wait at ", 0) == 0u, v.why);
}

BOOST_AUTO_TEST_CASE(expected_endings_are_not_crashes) {
  const Canary aborts{Runtime::Native, "uncaught-exception", "uncaught-exception", "thrower", "",
                      End::Aborts};
  Ending abort;
  abort.signal = SIGABRT;
  BOOST_TEST(judge(aborts, abort, {report({finding("uncaught-exception", "thrower")})}).live);
  BOOST_TEST(!judge(kBlocking, abort, {report({finding("blocking-call", "x")})}).live);
  Ending stopped;
  stopped.stopped = true;
  stopped.signal = SIGKILL;
  BOOST_TEST(
      judge(kStall, stopped, {report({finding("loop-stall", "canary_stall_busy_on_loop")})}).live);
}

BOOST_AUTO_TEST_CASE(hooks_off_are_those_no_start_line_says_were_installed) {
  // The process's own start line, written at start, and its child's, written later.
  Report parent = report({}, {{"cpython.asyncio", false},
                              {"stall_sampler", false},
                              {"uv_run", false},
                              {"epoll_wait", true}});
  Report child = report({}, {{"cpython.asyncio", true}, {"stall_sampler", false}});
  Verdict v = judge(kBlocking, exited(), {parent, child});
  // uv_run is an optional hook of shim/hooks.def: absent where libuv is not loaded.
  BOOST_TEST(v.hooks_off == std::vector<std::string>{"stall_sampler"});
}

BOOST_AUTO_TEST_SUITE_END()
