// loopsan report's formats for other tools: SARIF for code scanning, and suppression rules
// (--suppressions) that a rerun under the shim reads back.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "tests/support/harness.h"

using namespace loopsan::test;
using nlohmann::json;

namespace {

// --- SARIF 2.1.0, checked against the schema's required properties ------------------------
// Debian ships no copy of the SARIF schema (no package has sarif-schema-2.1.0.json) and there
// is no network here, so this checks what the schema and GitHub's code scanning require of
// each object type loopsan writes, property by property.

struct SarifChecker {
  std::vector<std::string> problems;
  std::set<std::string> base_ids;

  void fail(const std::string& where, const std::string& what) {
    problems.push_back(where + ": " + what);
  }
  bool text(const json& v, const char* key, const std::string& where) {
    if (!v.is_object() || !v.contains(key) || !v[key].is_string() ||
        v[key].get<std::string>().empty()) {
      fail(where, std::string("needs a non-empty string '") + key + "'");
      return false;
    }
    return true;
  }
  void message(const json& m, const std::string& where) {
    // A message object has text (or an id into the rule's messageStrings: loopsan uses none).
    text(m, "text", where + ".message");
  }
  void uri(const json& artifact, const std::string& where) {
    if (!text(artifact, "uri", where)) return;
    std::string u = artifact["uri"];
    // RFC 3986: no byte outside the URI characters, every '%' followed by two hex digits.
    static const std::regex uri_chars(R"(^([A-Za-z0-9\-._~/:!$&'()*+,;=@]|%[0-9A-F]{2})+$)");
    if (!std::regex_match(u, uri_chars)) fail(where, "uri is not a well-formed URI: " + u);
    bool absolute = u.rfind("file:///", 0) == 0;
    if (artifact.contains("uriBaseId")) {
      if (absolute) fail(where, "an absolute uri with a uriBaseId");
      if (base_ids.count(artifact["uriBaseId"].get<std::string>()) == 0) {
        fail(where, "uriBaseId not in run.originalUriBaseIds");
      }
    } else if (!absolute && u.find(':') != std::string::npos) {
      fail(where, "a scheme other than file: " + u);
    }
  }
  void location(const json& loc, const std::string& where) {
    if (!loc.is_object()) return fail(where, "a location is an object");
    if (loc.contains("physicalLocation")) {
      const json& p = loc["physicalLocation"];
      if (!p.contains("artifactLocation")) return fail(where, "physicalLocation without artifact");
      uri(p["artifactLocation"], where + ".physicalLocation.artifactLocation");
      if (p.contains("region")) {
        const json& r = p["region"];
        if (!r.contains("startLine") || !r["startLine"].is_number_integer() ||
            r["startLine"].get<long>() < 1) {
          fail(where, "region.startLine must be an integer >= 1");
        }
        if (r.contains("startColumn") && r["startColumn"].get<long>() < 1) {
          fail(where, "region.startColumn must be >= 1");
        }
      }
    }
    if (loc.contains("logicalLocations")) {
      for (const json& l : loc["logicalLocations"]) {
        if (!l.contains("name") && !l.contains("fullyQualifiedName")) {
          fail(where, "a logicalLocation without a name");
        }
      }
    }
    if (loc.contains("message")) message(loc["message"], where);
    if (loc.contains("properties") && !loc["properties"].is_object()) {
      fail(where, "properties is a property bag (an object)");
    }
  }
  void check(const json& log) {
    if (!log.is_object()) return fail("log", "not an object");
    text(log, "$schema", "log");
    if (log.value("version", "") != "2.1.0") fail("log", "version is not 2.1.0");
    if (!log.contains("runs") || !log["runs"].is_array() || log["runs"].empty()) {
      return fail("log", "needs runs");
    }
    for (const json& run : log["runs"]) {
      if (!run.contains("tool") || !run["tool"].contains("driver")) return fail("run", "no driver");
      const json& driver = run["tool"]["driver"];
      text(driver, "name", "driver");
      if (run.contains("originalUriBaseIds")) {
        for (const auto& [id, base] : run["originalUriBaseIds"].items()) {
          base_ids.insert(id);
          std::string u = base.value("uri", "");
          if (u.rfind("file:///", 0) != 0 || u.back() != '/') {
            fail("originalUriBaseIds", "a base is an absolute URI ending with '/': " + u);
          }
        }
      }
      const json& rules = driver.contains("rules") ? driver["rules"] : json::array();
      std::set<std::string> rule_ids;
      for (size_t i = 0; i < rules.size(); ++i) {
        std::string where = "rule " + std::to_string(i);
        const json& rule = rules[i];
        if (text(rule, "id", where) && !rule_ids.insert(rule["id"].get<std::string>()).second) {
          fail(where, "duplicate id");
        }
        if (rule.value("name", "").size() > 255) fail(where, "name over 255 characters");
        for (const char* d : {"shortDescription", "fullDescription"}) {
          if (text(rule[d], "text", where + "." + d) &&
              rule[d]["text"].get<std::string>().size() > 1024) {
            fail(where, std::string(d) + " over 1024 characters");
          }
        }
        text(rule["help"], "text", where + ".help");
        text(rule["help"], "markdown", where + ".help");
        std::string level = rule["defaultConfiguration"].value("level", "");
        if (level != "warning" && level != "error" && level != "note") {
          fail(where, "defaultConfiguration.level: " + level);
        }
      }
      if (!run.contains("results") || !run["results"].is_array()) return fail("run", "no results");
      for (size_t i = 0; i < run["results"].size(); ++i) {
        const json& r = run["results"][i];
        std::string where = "result " + std::to_string(i);
        message(r["message"], where);
        if (text(r, "ruleId", where)) {
          std::string id = r["ruleId"];
          if (rule_ids.count(id) == 0) fail(where, "ruleId names no rule: " + id);
          if (!r.contains("ruleIndex") || !r["ruleIndex"].is_number_unsigned() ||
              r["ruleIndex"].get<size_t>() >= rules.size() ||
              rules[r["ruleIndex"].get<size_t>()].value("id", "") != id) {
            fail(where, "ruleIndex is not the index of ruleId's rule");
          }
        }
        std::string level = r.value("level", "");
        if (level != "warning" && level != "error" && level != "note")
          fail(where, "level " + level);
        if (!r.contains("locations") || r["locations"].empty() || r["locations"].size() > 10) {
          fail(where, "needs 1 to 10 locations");
        } else {
          for (const json& loc : r["locations"]) location(loc, where + ".locations");
        }
        if (!r.contains("partialFingerprints") || r["partialFingerprints"].empty()) {
          fail(where, "needs partialFingerprints");
        } else {
          for (const auto& [k, v] : r["partialFingerprints"].items()) {
            if (!v.is_string() || v.get<std::string>().empty())
              fail(where, "empty fingerprint " + k);
          }
        }
        std::set<long> related_ids;
        for (const json& loc : r.value("relatedLocations", json::array())) {
          location(loc, where + ".relatedLocations");
          if (!loc.contains("id") || loc["id"].get<long>() < 0 ||
              !related_ids.insert(loc["id"].get<long>()).second) {
            fail(where, "relatedLocations need distinct non-negative ids");
          }
        }
        for (const json& flow : r.value("codeFlows", json::array())) {
          if (!flow.contains("threadFlows") || flow["threadFlows"].empty()) {
            fail(where, "a codeFlow needs threadFlows");
            continue;
          }
          for (const json& thread : flow["threadFlows"]) {
            if (!thread.contains("locations") || thread["locations"].empty()) {
              fail(where, "a threadFlow needs locations");
              continue;
            }
            for (const json& step : thread["locations"]) {
              if (!step.contains("location")) fail(where, "a threadFlowLocation without location");
              location(step["location"], where + ".codeFlows");
            }
          }
        }
        if (r.contains("properties") && !r["properties"].is_object()) fail(where, "properties");
      }
    }
  }
};

std::vector<std::string> sarif_problems(const json& log) {
  SarifChecker c;
  c.check(log);
  return c.problems;
}

std::string source_root() {
  std::string py = LOOPSAN_TEST_PY_VICTIMS;  // <root>/tests/victims/python
  return py.substr(0, py.size() - std::string("/tests/victims/python").size());
}

const json* result_of_kind(const json& log, const std::string& kind) {
  for (const json& r : log["runs"][0]["results"]) {
    if (r["ruleId"] == kind) return &r;
  }
  return nullptr;
}

// `loopsan report --suppressions` of these report directories, written to a file.
std::string suppressions_file(const std::vector<std::string>& report_dirs, std::string* text) {
  std::vector<std::string> argv = {cli_path(), "report", "--suppressions"};
  argv.insert(argv.end(), report_dirs.begin(), report_dirs.end());
  RunResult r = run({.argv = argv, .preload = false});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.describe());
  std::string path = make_temp_dir() + "/loopsan.supp";
  std::ofstream(path) << r.out;
  *text = r.out;
  return path;
}

// The generated rules silence the findings they were made from, and only those: the same run
// with them has none; `other`, a different bug of the same program, is still reported.
void round_trip(const std::vector<std::string>& buggy, const std::vector<std::string>& other,
                const std::string& kind, const std::string& other_function) {
  RunResult first = run({.argv = buggy});
  BOOST_REQUIRE_MESSAGE(!first.findings(kind).empty(), first.describe());
  std::string rules;
  std::string file = suppressions_file({first.report_dir}, &rules);
  BOOST_TEST(rules.find("\n# " + kind + ": ") != std::string::npos, rules);
  BOOST_TEST(rules.find("\n" + kind + "@") != std::string::npos, rules);

  RunResult again = run({.argv = buggy, .options = "suppressions=" + file});
  BOOST_TEST(again.findings().empty(), "with the rules:\n" << rules << again.describe());
  BOOST_TEST(again.err.find("warning: suppressions file") == std::string::npos, again.err);

  RunResult different = run({.argv = other, .options = "suppressions=" + file});
  auto left = different.findings(kind);
  BOOST_TEST_REQUIRE(left.size() == 1u, "with the rules:\n" << rules << different.describe());
  BOOST_TEST(left[0].dump().find(other_function) != std::string::npos, left[0].dump());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(report_formats)

BOOST_AUTO_TEST_CASE(sarif_of_real_findings_is_valid_and_points_at_the_guilty_lines) {
  RunResult native = run({.argv = {victim("loop_victim"), "sleep-in-loop"}});
  RunResult lost = run({.argv = {victim("futures_victim"), "async-dropped"}});
  std::string script = python_victim("sleep_in_coroutine.py");
  RunResult python_run = run({.argv = {python(), script}});
  RunResult r =
      run({.argv = {cli_path(), "report", "--format", "sarif", "--source-root", source_root(),
                    native.report_dir, lost.report_dir, python_run.report_dir},
           .preload = false});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.describe());
  json log = json::parse(r.out);
  auto problems = sarif_problems(log);
  BOOST_TEST(problems.empty(), [&] {
    std::string all;
    for (const auto& p : problems) all += p + "\n";
    return all;
  }());
  BOOST_TEST(log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] ==
             "file://" + source_root() + "/");
  const json& rules = log["runs"][0]["tool"]["driver"]["rules"];
  BOOST_TEST(rules.size() >= 12u);  // one per kind of findings.def
  BOOST_TEST(log["runs"][0]["results"].size() == 3u);

  // The C++ blocking call: at on_tick_sleeps' line, relative to the source root.
  const json* blocking = nullptr;
  const json* in_python = nullptr;
  for (const json& res : log["runs"][0]["results"]) {
    std::string uri = res["locations"][0]["physicalLocation"]["artifactLocation"].value("uri", "");
    if (res["ruleId"] == "blocking-call" && uri.find(".py") == std::string::npos) blocking = &res;
    if (res["ruleId"] == "blocking-call" && uri.find(".py") != std::string::npos) in_python = &res;
  }
  BOOST_REQUIRE(blocking != nullptr);
  const json& at = (*blocking)["locations"][0]["physicalLocation"];
  BOOST_TEST(at["artifactLocation"]["uri"] == "tests/victims/loop_victim.cc");
  BOOST_TEST(at["artifactLocation"]["uriBaseId"] == "%SRCROOT%");
  std::string victim_source = source_root() + "/tests/victims/loop_victim.cc";
  BOOST_TEST(at["region"]["startLine"] == line_of(victim_source, "void on_tick_sleeps()") + 1);
  BOOST_TEST((*blocking)["level"] == "warning");
  BOOST_TEST((*blocking)["properties"]["call"] == native.findings()[0]["call"]);
  BOOST_TEST((*blocking)["partialFingerprints"]["loopsanFindingId/v1"] ==
             native.findings()[0]["id"]);
  // The code flow runs in execution order: main before on_tick_sleeps, the libc sleep last.
  const json& steps = (*blocking)["codeFlows"][0]["threadFlows"][0]["locations"];
  int main_at = -1, tick_at = -1;
  for (size_t i = 0; i < steps.size(); ++i) {
    std::string name = steps[i]["location"]["logicalLocations"][0].value("name", "");
    if (name == "main" && main_at < 0) main_at = static_cast<int>(i);
    if (name.find("on_tick_sleeps") != std::string::npos) tick_at = static_cast<int>(i);
  }
  BOOST_TEST(main_at >= 0, steps.dump(1));
  BOOST_TEST(tick_at > main_at, steps.dump(1));
  // Innermost: on_tick_sleeps, or sleep_for inlined into it.
  BOOST_TEST(tick_at + 2 >= static_cast<int>(steps.size()), steps.dump(1));

  // The lost exception: where it was dropped, and where it was thrown as a related location.
  const json* unretrieved = result_of_kind(log, "unretrieved-exception");
  BOOST_REQUIRE(unretrieved != nullptr);
  BOOST_TEST((*unretrieved)["level"] == "error");
  BOOST_TEST((*unretrieved)["properties"]["exception"]["type"] == "std::runtime_error");
  bool thrown = false;
  for (const json& loc : (*unretrieved)["relatedLocations"]) {
    std::string text = loc["message"]["text"];
    thrown |= text.find("where the exception was thrown: compute_answer") != std::string::npos &&
              loc["physicalLocation"]["region"]["startLine"] ==
                  line_of(source_root() + "/tests/victims/futures_victim.cc",
                          "throw std::runtime_error(\"answer unavailable\")");
  }
  BOOST_TEST(thrown, (*unretrieved)["relatedLocations"].dump(1));

  // Python: the handler's line, and one stack of Python and native frames, time_sleep inner.
  BOOST_REQUIRE(in_python != nullptr);
  const json& py = (*in_python)["locations"][0]["physicalLocation"];
  BOOST_TEST(py["artifactLocation"]["uri"] == "tests/victims/python/sleep_in_coroutine.py");
  BOOST_TEST(py["region"]["startLine"] == line_of(script, "BLOCKING-CALL-HERE"));
  const json& py_steps = (*in_python)["codeFlows"][0]["threadFlows"][0]["locations"];
  int handler_at = -1, builtin_at = -1;
  for (size_t i = 0; i < py_steps.size(); ++i) {
    std::string name = py_steps[i]["location"]["logicalLocations"][0].value("name", "");
    if (name == "slow_handler") handler_at = static_cast<int>(i);
    if (name == "time_sleep") builtin_at = static_cast<int>(i);
  }
  BOOST_TEST(handler_at >= 0, py_steps.dump(1));
  BOOST_TEST(builtin_at > handler_at, py_steps.dump(1));
}

BOOST_AUTO_TEST_CASE(sarif_of_hostile_recorded_reports_is_valid) {
  // The golden reports (tests/golden/reports): quotes, control characters, invalid UTF-8, a
  // 10,000-character name, bidirectional text, missing fields, frames that are not frames.
  std::vector<std::string> argv = {cli_path(),       "report",        "--format",      "sarif",
                                   "--no-symbolize", "--source-root", "/home/dev/proj"};
  for (const auto& entry :
       std::filesystem::directory_iterator(source_root() + "/tests/golden/reports")) {
    argv.push_back(entry.path().string());
  }
  RunResult r = run({.argv = argv, .preload = false});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.describe());
  json log = json::parse(r.out);  // throws on invalid JSON or UTF-8
  auto problems = sarif_problems(log);
  BOOST_TEST(problems.empty(), [&] {
    std::string all;
    for (const auto& p : problems) all += p + "\n";
    return all;
  }());
  BOOST_TEST(log["runs"][0]["results"].size() >= 9u);  // distinct ids of the 7 files
  // A kind this loopsan does not know still has a rule.
  BOOST_TEST(result_of_kind(log, "future-kind") != nullptr);
}

BOOST_AUTO_TEST_CASE(suppressions_round_trip_blocking_call) {
  round_trip({victim("loop_victim"), "sleep-in-loop"},
             {victim("loop_victim"), "fsync-in-loop", make_temp_dir() + "/state"}, "blocking-call",
             "on_tick_saves_state");
}

BOOST_AUTO_TEST_CASE(suppressions_round_trip_unretrieved_exception) {
  round_trip({victim("futures_victim"), "async-dropped"},
             {victim("futures_victim"), "promise-dropped"}, "unretrieved-exception",
             "validate_input");
}

BOOST_AUTO_TEST_CASE(suppressions_round_trip_thread_leak) {
  // No guilty frame in the finding's own stacks: the rule names the creator.
  round_trip({victim("leak_victim"), "leaked-sleep"}, {victim("leak_victim"), "leaked-read"},
             "thread-leak", "start_reader");
}

BOOST_AUTO_TEST_CASE(suppressions_round_trip_python_names_the_file) {
  // Both bugs block in a function named `run`; the rule for app.py's leaves jobs.py's alone.
  std::string app = python_victim("report_formats/app.py");
  RunResult first = run({.argv = {python(), app, "app"}});
  BOOST_REQUIRE_MESSAGE(first.findings("blocking-call").size() == 1u, first.describe());
  std::string rules;
  std::string file = suppressions_file({first.report_dir}, &rules);
  BOOST_TEST(rules.find("\nblocking-call@*/app.py:run\n") != std::string::npos, rules);

  RunResult again = run({.argv = {python(), app, "app"}, .options = "suppressions=" + file});
  BOOST_TEST(again.findings().empty(), again.describe());
  RunResult both = run({.argv = {python(), app, "both"}, .options = "suppressions=" + file});
  auto left = both.findings("blocking-call");
  BOOST_TEST_REQUIRE(left.size() == 1u, both.describe());
  BOOST_TEST(
      left[0]["python_stack"][0]["file"].get<std::string>().find("jobs.py") != std::string::npos,
      left[0].dump());
  BOOST_REQUIRE(both.reports.size() == 1u);
  BOOST_TEST(both.reports[0].summary.value("suppressed", 0) >= 1, both.describe());
}

BOOST_AUTO_TEST_SUITE_END()
