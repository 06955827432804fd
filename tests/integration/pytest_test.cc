// The pytest plugin (tools/python/loopsan.py) through a consumer project that knows nothing of
// loopsan (tests/consumer_pytest/): four tests, two of them guilty. Debian's python3 with
// Debian's pytest (python3-pytest), the way a user's CI runs it.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/harness.h"

using namespace loopsan::test;
namespace fs = std::filesystem;

namespace {

const fs::path kSourceRoot = fs::path(LOOPSAN_TEST_HOOKS_DEF).parent_path().parent_path();

// A fresh copy of the consumer project: pytest writes nothing into the source tree.
std::string consumer_copy(const std::string& project) {
  std::string dir = make_temp_dir();
  fs::copy(kSourceRoot / "tests" / project, dir, fs::copy_options::recursive);
  return dir;
}

struct PytestRun {
  bool preload = true;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string project = "consumer_pytest";
};

RunResult run_pytest(const PytestRun& r) {
  std::vector<std::string> argv = {
      system_python(), "-m", "pytest", "-p", "no:cacheprovider", "-rA", consumer_copy(r.project)};
  argv.insert(argv.end(), r.args.begin(), r.args.end());
  std::vector<std::pair<std::string, std::string>> env = r.env;
  env.emplace_back("PYTHONDONTWRITEBYTECODE", "1");
  env.emplace_back("COLUMNS", "300");  // pytest's summary lines are cut to the terminal's width
  return run({.argv = argv, .preload = r.preload, .env = env});
}

// PASSED or FAILED, from the -rA short summary line of `test` (pytest names it relative to the
// working directory); "" when absent.
std::string outcome(const RunResult& r, const std::string& test,
                    const std::string& file = "test_service") {
  std::istringstream lines(r.out);
  std::string found;
  std::regex summary("(PASSED|FAILED|ERROR) \\S*" + file + "\\.py::" + test + "( .*)?");
  std::smatch m;
  for (std::string line; std::getline(lines, line);) {
    if (std::regex_match(line, m, summary)) found = m[1];
  }
  return found;
}

// The failure text pytest printed for `test`: the lines under its "____ test ____" header.
std::string failure_text(const RunResult& r, const std::string& test) {
  std::istringstream lines(r.out);
  std::string text;
  bool in = false;
  std::regex header("_+ " + test + " _+");
  for (std::string line; std::getline(lines, line);) {
    if (in && (line.rfind("____", 0) == 0 || line.rfind("====", 0) == 0)) break;
    if (in) text += line + "\n";
    if (std::regex_match(line, header)) in = true;
  }
  return text;
}

// What --trace-config's "active plugins" says of each plugin registered under `name`.
std::vector<std::string> active_plugins(const RunResult& r, const std::string& name) {
  std::istringstream lines(r.out);
  std::vector<std::string> found;
  std::regex entry(" +" + name + " +: (.*)");
  std::smatch m;
  for (std::string line; std::getline(lines, line);) {
    if (std::regex_match(line, m, entry)) found.push_back(m[1]);
  }
  return found;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

void expect_two_guilty_tests_fail(const RunResult& r) {
  BOOST_TEST(r.exit_code == 1, r.describe());
  BOOST_TEST(outcome(r, "test_clean_before") == "PASSED", r.describe());
  BOOST_TEST(outcome(r, "test_blocking_call") == "FAILED", r.describe());
  BOOST_TEST(outcome(r, "test_lost_future") == "FAILED", r.describe());
  BOOST_TEST(outcome(r, "test_clean_after") == "PASSED", r.describe());
  BOOST_TEST(r.out.find("2 failed, 2 passed") != std::string::npos, r.describe());
  std::string blocking = failure_text(r, "test_blocking_call");
  BOOST_TEST(blocking.find("loopsan: blocking-call: ") == 0, blocking);
  // The guilty line: the coroutine that slept.
  BOOST_TEST(blocking.find("\n  at refresh_cache (") != std::string::npos, blocking);
  BOOST_TEST(blocking.find("unretrieved-exception") == std::string::npos, blocking);
  std::string lost = failure_text(r, "test_lost_future");
  BOOST_TEST(lost.find("loopsan: unretrieved-exception: ") == 0, lost);
  // The guilty line: the test function that dropped the future; the exception is named.
  BOOST_TEST(lost.find("\n  at test_lost_future (") != std::string::npos, lost);
  BOOST_TEST(lost.find("ConnectionError") != std::string::npos, lost);
  BOOST_TEST(lost.find("blocking-call") == std::string::npos, lost);
  // The header says so once: the plugin is registered once.
  BOOST_TEST(count_of(r.out, "loopsan: checking each test") == 1u, r.describe());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pytest)

// Under the shim, with nothing installed and no -p: pytest autoloads the plugin the shim
// serves, and exactly the two guilty tests fail, each with its own finding.
BOOST_AUTO_TEST_CASE(autoloaded_under_the_shim_fails_the_guilty_tests) {
  RunResult r = run_pytest({});
  expect_two_guilty_tests_fail(r);
  BOOST_TEST(r.out.find("plugins: loopsan-") != std::string::npos, r.describe());
  BOOST_TEST(r.out.find("test_service.py::test_blocking_call - loopsan: blocking-call") !=
                 std::string::npos,
             r.describe());
  // The terminal summary lists the tests that raised findings.
  BOOST_TEST(r.out.find("loopsan findings") != std::string::npos, r.describe());
  BOOST_TEST(
      r.out.find("test_service.py::test_lost_future: unretrieved-exception\n") != std::string::npos,
      r.describe());
  // The report file names the test of each finding, and the clean tests have none.
  std::set<std::string> tests;
  for (const auto& f : r.findings()) tests.insert(f.value("test", ""));
  BOOST_TEST((tests == std::set<std::string>{"test_service.py::test_blocking_call",
                                             "test_service.py::test_lost_future"}),
             r.describe());
}

BOOST_AUTO_TEST_CASE(kinds_option_and_ini) {
  RunResult r = run_pytest({.args = {"--loopsan-kinds=blocking-call"}});
  BOOST_TEST(r.exit_code == 1, r.describe());
  BOOST_TEST(outcome(r, "test_blocking_call") == "FAILED", r.describe());
  BOOST_TEST(outcome(r, "test_lost_future") == "PASSED", r.describe());
  BOOST_TEST(r.out.find("1 failed, 3 passed") != std::string::npos, r.describe());
  // The other kind is a warning in the summary, with its excerpt.
  BOOST_TEST(r.out.find("test_service.py::test_lost_future: unretrieved-exception (not in "
                        "--loopsan-kinds)") != std::string::npos,
             r.describe());
  BOOST_TEST(r.out.find("  at test_lost_future (") != std::string::npos, r.describe());

  RunResult ini = run_pytest({.args = {"-o", "loopsan_kinds=unretrieved-exception"}});
  BOOST_TEST(outcome(ini, "test_blocking_call") == "PASSED", ini.describe());
  BOOST_TEST(outcome(ini, "test_lost_future") == "FAILED", ini.describe());

  RunResult none = run_pytest({.args = {"--loopsan-kinds=none"}});
  BOOST_TEST(none.exit_code == 0, none.describe());
  BOOST_TEST(none.out.find("4 passed") != std::string::npos, none.describe());

  RunResult typo = run_pytest({.args = {"--loopsan-kinds=blocking-cal"}});
  BOOST_TEST(typo.exit_code == 4, typo.describe());  // pytest's usage error
  BOOST_TEST(typo.err.find("unknown finding kind 'blocking-cal'") != std::string::npos,
             typo.describe());
}

// Without the shim the plugin (here the one the shim would serve, from the source tree) is
// inert and says so once.
BOOST_AUTO_TEST_CASE(inert_without_the_shim) {
  RunResult r = run_pytest({.preload = false,
                            .args = {"-p", "loopsan"},
                            .env = {{"PYTHONPATH", (kSourceRoot / "tools/python").string()}}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.out.find("4 passed") != std::string::npos, r.describe());
  BOOST_TEST(count_of(r.out, "loopsan: not loaded") == 1u, r.describe());
}

BOOST_AUTO_TEST_CASE(explicit_p_loopsan_registers_once) {
  RunResult r = run_pytest({.args = {"-p", "loopsan", "--trace-config"}});
  expect_two_guilty_tests_fail(r);
  // --trace-config lists the active plugins: the served module, once.
  BOOST_TEST((active_plugins(r, "loopsan") ==
              std::vector<std::string>{"<module 'loopsan' (<libloopsan.so>)>"}),
             r.describe());
}

BOOST_AUTO_TEST_CASE(disabled_by_p_no_and_by_no_autoload) {
  RunResult off = run_pytest({.args = {"-p", "no:loopsan"}});
  BOOST_TEST(off.exit_code == 0, off.describe());
  BOOST_TEST(off.out.find("4 passed") != std::string::npos, off.describe());
  BOOST_TEST(off.out.find("loopsan: checking") == std::string::npos, off.describe());

  RunResult no_autoload = run_pytest({.env = {{"PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1"}}});
  BOOST_TEST(no_autoload.exit_code == 0, no_autoload.describe());
  BOOST_TEST(no_autoload.out.find("loopsan: checking") == std::string::npos,
             no_autoload.describe());
  // An explicit -p still loads it.
  RunResult explicit_p =
      run_pytest({.args = {"-p", "loopsan"}, .env = {{"PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1"}}});
  expect_two_guilty_tests_fail(explicit_p);
}

// `cmake --install` puts the module and its dist-info in a site directory: an installed pytest
// autoloads it (inert without the shim), and with the shim the installed copy is the one used.
BOOST_AUTO_TEST_CASE(installed_copy) {
  std::string prefix = make_temp_dir();
  RunResult inst = run({.argv = {"cmake", "--install", LOOPSAN_TEST_BINARY_DIR, "--prefix", prefix},
                        .preload = false});
  BOOST_REQUIRE_MESSAGE(inst.exit_code == 0, inst.describe());
  fs::path module;
  for (const auto& entry : fs::recursive_directory_iterator(prefix)) {
    if (entry.path().filename() == "loopsan.py") module = entry.path();
  }
  BOOST_REQUIRE_MESSAGE(!module.empty(), "no loopsan.py under " + prefix);
  fs::path site = module.parent_path();
  BOOST_TEST(fs::relative(site, prefix).string().rfind("lib/python3.", 0) == 0, site.string());
  std::ifstream entry_points(site / "loopsan-0.1.0.dist-info/entry_points.txt");
  std::string text((std::istreambuf_iterator<char>(entry_points)), {});
  BOOST_TEST(text == "[pytest11]\nloopsan = loopsan\n");

  RunResult plain = run_pytest({.preload = false, .env = {{"PYTHONPATH", site.string()}}});
  BOOST_TEST(plain.exit_code == 0, plain.describe());
  BOOST_TEST(count_of(plain.out, "loopsan: not loaded") == 1u, plain.describe());

  RunResult under = run_pytest(
      {.args = {"-p", "loopsan", "--trace-config"}, .env = {{"PYTHONPATH", site.string()}}});
  expect_two_guilty_tests_fail(under);
  BOOST_TEST((active_plugins(under, "loopsan") == std::vector<std::string>{module.string()}),
             under.describe());
}

// A Python program that is not pytest sees nothing of the plugin but one finder object.
BOOST_AUTO_TEST_CASE(invisible_outside_pytest) {
  const char* probe =
      "import sys\n"
      "print(sorted(m for m in ('pytest', 'loopsan', 'importlib.metadata', 'ctypes')"
      " if m in sys.modules), sys.path[1:])\n";
  for (const std::string& py : pythons()) {
    RunResult plain = run({.argv = {py, "-c", probe}, .preload = false});
    RunResult under = run({.argv = {py, "-c", probe}});
    BOOST_TEST(under.exit_code == 0, under.describe());
    BOOST_TEST(under.out == plain.out, py + ":\n" + under.describe() + plain.describe());
    BOOST_TEST(under.out.rfind("[] ", 0) == 0, under.describe());
  }
  // What pip and importlib see: no `loopsan` distribution (`pip freeze` would list it) and no
  // importable `loopsan` outside pytest.
  const char* metadata =
      "import importlib.metadata as m, importlib.util as u\n"
      "print([d.metadata['Name'] for d in m.distributions()].count('loopsan'),"
      " u.find_spec('loopsan'))\n";
  for (const std::string& py : pythons()) {
    RunResult under = run({.argv = {py, "-c", metadata}});
    BOOST_TEST(under.out == "0 None\n", py + ":\n" + under.describe());
  }
}

// A finding at collection is listed and fails no test; one in a test that failed anyway is
// added to its failure; a skipped test stays skipped; a failed future a fixture held is found
// once the item let go of it, in that test.
BOOST_AUTO_TEST_CASE(edges) {
  RunResult r = run_pytest({.project = "consumer_pytest_edge"});
  BOOST_TEST(r.exit_code == 1, r.describe());
  BOOST_TEST(r.out.find("2 failed, 1 skipped") != std::string::npos, r.describe());
  BOOST_TEST(outcome(r, "test_fails_anyway", "test_edges") == "FAILED", r.describe());
  std::string anyway = failure_text(r, "test_fails_anyway");
  BOOST_TEST(anyway.find("assert 1 == 2") != std::string::npos, anyway);
  size_t section = anyway.find("- loopsan -");
  BOOST_TEST(section != std::string::npos, anyway);
  BOOST_TEST(anyway.find("loopsan: blocking-call: ", section) != std::string::npos, anyway);
  BOOST_TEST(r.out.find("test_edges.py::test_skipped: blocking-call (the test was skipped)") !=
                 std::string::npos,
             r.describe());
  BOOST_TEST(outcome(r, "test_holds_failed_future", "test_edges") == "FAILED", r.describe());
  std::string held = failure_text(r, "test_holds_failed_future");
  BOOST_TEST(held.find("loopsan: unretrieved-exception: PermissionError") == 0, held);
  BOOST_TEST(r.out.find("outside tests (failing none): blocking-call") != std::string::npos,
             r.describe());
  // The report file: the collection's finding belongs to the session scope.
  std::set<std::string> tests;
  for (const auto& f : r.findings("blocking-call")) tests.insert(f.value("test", ""));
  BOOST_TEST(tests.count("<pytest session>") == 1u, r.describe());
}

// The plugin's list of kinds (for --loopsan-kinds) is agent/report/findings.def's.
BOOST_AUTO_TEST_CASE(plugin_knows_every_kind) {
  auto read = [](const fs::path& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  };
  std::set<std::string> def, plugin;
  std::string findings = read(kSourceRoot / "agent/report/findings.def");
  std::regex row(R"re(LOOPSAN_FINDING\(\w+, "([a-z-]+)")re");
  for (std::sregex_iterator it(findings.begin(), findings.end(), row), end; it != end; ++it) {
    def.insert((*it)[1]);
  }
  std::string source = read(kSourceRoot / "tools/python/loopsan.py");
  size_t begin = source.find("KINDS = (");
  size_t stop = source.find(")", begin);
  BOOST_REQUIRE(begin != std::string::npos);
  std::string list = source.substr(begin, stop - begin);
  std::regex quoted(R"re("([a-z-]+)")re");
  for (std::sregex_iterator it(list.begin(), list.end(), quoted), end; it != end; ++it) {
    plugin.insert((*it)[1]);
  }
  BOOST_TEST(def.size() >= 12u);
  BOOST_TEST((plugin == def));
}

BOOST_AUTO_TEST_SUITE_END()
