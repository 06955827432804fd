// `loopsan selftest`: the bundled canaries prove each detector live in the build tree, a
// detector turned off (or a shim that is not loopsan) shows as BROKEN with exit status 1, and
// a runtime that is missing is skipped, failing the selftest only when --require asks for it.
// The installed tree's selftest runs in install_test.cc.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <set>
#include <sstream>

#include "tests/support/harness.h"
#include "tools/loopsan/selftest.h"

using namespace loopsan::test;
using nlohmann::json;

namespace {

RunResult run_selftest(std::vector<std::string> args, const std::string& options = "",
                       std::vector<std::pair<std::string, std::string>> env = {}) {
  std::vector<std::string> argv = {cli_path(), "selftest"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run({.argv = argv, .preload = false, .options = options, .env = env, .timeout_s = 120});
}

// The table's row of canary `mode` of `runtime` ("native", "python3", "node").
std::string row(const std::string& out, const std::string& mode, const std::string& runtime) {
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string detector, canary, rt;
    words >> detector >> canary >> rt;
    if (detector == "(none:") {  // "(none: clean)  clean  native ..."
      canary = rt;
      words >> rt;
    }
    if (canary == mode && rt == runtime) return line;
  }
  return "";
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(selftest)

BOOST_AUTO_TEST_CASE(every_detector_is_live_in_the_build_tree) {
  auto t0 = std::chrono::steady_clock::now();
  RunResult r = run_selftest({"--json"});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  BOOST_TEST_MESSAGE("loopsan selftest took " << seconds << " s");
  BOOST_TEST(r.exit_code == 0, r.describe());
  json out = json::parse(r.out, nullptr, false);
  BOOST_REQUIRE_MESSAGE(out.is_object(), r.describe());
  BOOST_TEST(out["ok"] == true, r.describe());
  BOOST_TEST(out["broken"] == 0, r.describe());
  // Each canary of the table ran (node may be absent on a machine, Python never is here).
  BOOST_TEST(out["canaries"].size() == std::size(loopsan::cli::kCanaries));
  std::set<std::string> live_kinds;
  for (const json& c : out["canaries"]) {
    if (c["runtime"] == "node" && c["status"] == "skipped") continue;
    BOOST_TEST(c["status"] == "live", c.dump());
    BOOST_TEST(c["hooks_off"].empty(), c.dump());
    if (c["status"] == "live") live_kinds.insert(c["kind"].get<std::string>());
  }
  // Every kind a detector emits has a live canary: a new detector gets one (CONTRIBUTING.md).
#define LOOPSAN_FINDING(enumerator, name, implemented, meaning, fields) \
  if (implemented) BOOST_TEST(live_kinds.count(name) == 1u, name);
#include "agent/report/findings.def"
#undef LOOPSAN_FINDING
  BOOST_TEST(live_kinds.count("") == 1u);  // the clean canaries
  // Runs canaries side by side and stops the ones that wait for ever at their finding: a few
  // seconds on an idle 2-core machine, a generous bound for a loaded one.
  BOOST_TEST(seconds < 60);
}

BOOST_AUTO_TEST_CASE(the_table_names_each_canary_runtime_and_status) {
  RunResult r = run_selftest({"--only", "native/blocking-call,python/clean,unretrieved-exception"});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(has(row(r.out, "blocking-call", "native"), " live"), r.out);
  BOOST_TEST(has(row(r.out, "clean", "python3"), " live"), r.out);
  BOOST_TEST(has(row(r.out, "unretrieved-task", "python3"), "unretrieved-exception"), r.out);
  BOOST_TEST(has(row(r.out, "unretrieved-future", "python3"), " live"), r.out);
  BOOST_TEST(has(row(r.out, "unretrieved-exception", "native"), " live"), r.out);
  BOOST_TEST(row(r.out, "loop-stall", "native").empty(), r.out);  // not selected
  BOOST_TEST(has(r.out, "5 live, 0 broken, 0 skipped"), r.out);
}

BOOST_AUTO_TEST_CASE(a_detector_turned_off_is_broken_and_fails_the_selftest) {
  // Through -o, and through LOOPSAN_OPTIONS, which the selftest passes on to its canaries.
  RunResult by_flag = run_selftest({"-o", "stall_threshold_ms=0", "--only",
                                    "native/loop-stall,native/blocking-call", "--timeout", "6"});
  BOOST_TEST(by_flag.exit_code == 1, by_flag.describe());
  BOOST_TEST(
      has(row(by_flag.out, "loop-stall", "native"), "BROKEN (no finding (stall_threshold_ms=0))"),
      by_flag.out);
  BOOST_TEST(has(row(by_flag.out, "blocking-call", "native"), " live"), by_flag.out);
  BOOST_TEST(has(by_flag.out, "1 live, 1 broken"), by_flag.out);

  RunResult by_env = run_selftest(
      {"--only", "native/hung-wait,python/python-stacks", "--timeout", "6"}, "hang_threshold_ms=0");
  BOOST_TEST(by_env.exit_code == 1, by_env.describe());
  BOOST_TEST(has(row(by_env.out, "hung-wait", "native"), "BROKEN (no finding"), by_env.out);
  BOOST_TEST(has(row(by_env.out, "python-stacks", "python3"), "BROKEN (no finding"), by_env.out);
}

BOOST_AUTO_TEST_CASE(a_shim_that_is_not_loopsan_breaks_every_canary) {
  // libm loads fine and intercepts nothing: no report at all, which a clean canary must not
  // take for "no findings".
  std::string libm = "/lib/x86_64-linux-gnu/libm.so.6";
  RunResult r = run_selftest({"--shim", libm, "--only", "native/blocking-call,native/clean"});
  BOOST_TEST(r.exit_code == 1, r.describe());
  BOOST_TEST(has(row(r.out, "blocking-call", "native"), "BROKEN (report missing"), r.out);
  BOOST_TEST(has(row(r.out, "clean", "native"), "BROKEN (report missing"), r.out);
}

BOOST_AUTO_TEST_CASE(a_missing_runtime_is_skipped_and_fails_only_when_required) {
  std::vector<std::pair<std::string, std::string>> no_node = {{"PATH", "/nonexistent"}};
  RunResult lenient = run_selftest({"--only", "node,native/clean"}, "", no_node);
  BOOST_TEST(lenient.exit_code == 0, lenient.describe());
  BOOST_TEST(has(row(lenient.out, "blocking-call", "node"), "skipped (node not found)"),
             lenient.out);
  RunResult strict =
      run_selftest({"--only", "node,native/clean", "--require", "node"}, "", no_node);
  BOOST_TEST(strict.exit_code == 1, strict.describe());
  BOOST_TEST(has(row(strict.out, "blocking-call", "node"), "skipped (node not found)"), strict.out);
  BOOST_TEST(has(strict.out, "required but skipped (--require): node/blocking-call"), strict.out);
  // An interpreter named with --python that is not there is skipped the same way.
  RunResult python = run_selftest({"--only", "python/clean", "--python", "/nonexistent/python3",
                                   "--require", "python", "--json"});
  BOOST_TEST(python.exit_code == 1, python.describe());
  json out = json::parse(python.out, nullptr, false);
  BOOST_REQUIRE(out.is_object());
  BOOST_TEST(out["canaries"][0]["status"] == "skipped", out.dump());
  BOOST_TEST(out["canaries"][0]["why"] == "/nonexistent/python3 not found", out.dump());
}

BOOST_AUTO_TEST_CASE(kept_reports_are_where_it_says) {
  std::string keep = make_temp_dir() + "/kept";
  RunResult r = run_selftest({"--only", "python/cross-thread-call", "--keep", keep});
  BOOST_TEST(r.exit_code == 0, r.describe());
  auto reports = read_reports(keep + "/python-cross-thread-call");
  BOOST_REQUIRE(!reports.empty());
  bool found = false;
  for (const auto& rep : reports) {
    for (const json& f : rep.findings) {
      found = found || (f["kind"] == "cross-thread-call" && f["call"] == "loop.call_soon");
    }
  }
  BOOST_TEST(found, r.describe());
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_usage_errors) {
  BOOST_TEST(run_selftest({"--only", "no-such-detector"}).exit_code == 2);
  BOOST_TEST(run_selftest({"--require", "java"}).exit_code == 2);
  BOOST_TEST(run_selftest({"--frobnicate"}).exit_code == 2);
  RunResult help = run_selftest({"--help"});
  BOOST_TEST(help.exit_code == 0);
  BOOST_TEST(has(help.out, "--require"), help.out);
}

BOOST_AUTO_TEST_SUITE_END()
