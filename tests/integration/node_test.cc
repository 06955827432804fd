// node: blocking calls on node's event loop carry the JavaScript stack of the call (js_stack),
// read through V8's exported API (agent/runtimes/node_bridge.h).
//
// Runs every case with each node found: the `node` on PATH, and Debian's nodejs unpacked
// without installing it (`apt-get download nodejs libnode108; dpkg -x` into a directory) when
// LOOPSAN_TEST_DEBIAN_NODE names that directory. Skipped, with a message, when there is no
// node at all.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/support/harness.h"

using namespace loopsan::test;
using nlohmann::json;

namespace {

struct Node {
  std::string exe;
  std::vector<std::pair<std::string, std::string>> env;
};

std::string on_path(const std::string& name) {
  const char* path = getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return {};
}

std::vector<Node> nodes() {
  std::vector<Node> all;
  std::string node = on_path("node");
  if (!node.empty()) all.push_back({node, {}});
  if (const char* root = getenv("LOOPSAN_TEST_DEBIAN_NODE")) {
    std::string exe = std::string(root) + "/usr/bin/node";
    std::string libs = std::string(root) + "/usr/lib/x86_64-linux-gnu";
    if (access(exe.c_str(), X_OK) == 0) all.push_back({exe, {{"LD_LIBRARY_PATH", libs}}});
  }
  return all;
}

std::string node_victim(const std::string& name) {
  return std::string(LOOPSAN_TEST_NODE_VICTIMS) + "/" + name;
}

RunResult run_node(const Node& node, std::vector<std::string> args, std::string options = "") {
  std::vector<std::string> argv = {node.exe};
  argv.insert(argv.end(), args.begin(), args.end());
  return run({.argv = argv, .options = options, .env = node.env});
}

// The node on PATH, or a skip message.
bool have_node() {
  if (!nodes().empty()) return true;
  BOOST_TEST_MESSAGE("node is not installed: skipping the node tests");
  return false;
}

std::string function_of(const json& frame) {
  return frame.value("function", std::string());
}

bool js_stack_names(const json& stack, const std::string& function) {
  if (!stack.is_array()) return false;
  for (const auto& frame : stack) {
    if (function_of(frame) == function) return true;
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(node)

BOOST_AUTO_TEST_CASE(fsync_in_a_timer_callback_names_the_javascript_function_and_line) {
  if (!have_node()) return;
  std::string script = node_victim("fsync_in_timer.js");
  int line = line_of(script, "FSYNC-HERE");
  for (const Node& node : nodes()) {
    BOOST_TEST_CONTEXT(node.exe) {
      RunResult r = run_node(node, {script, make_temp_dir() + "/state.json"});
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.out == "saved\n");
      auto findings = r.findings("blocking-call");
      BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
      json f = findings[0];
      BOOST_TEST(f["call"] == "fsync");
      BOOST_TEST(f["thread"]["role"] == "loop");
      BOOST_TEST(f["thread"]["tid"] == r.reports.at(0).start["pid"]);
      BOOST_REQUIRE_MESSAGE(f["js_stack"].is_array() && f["js_stack"].size() >= 3u, r.describe());
      const json& top = f["js_stack"][0];
      BOOST_TEST(top["function"] == "saveStateSynchronously");
      BOOST_TEST(top["script"] == script);
      BOOST_TEST(top["line"] == line);
      BOOST_TEST(top["column"].get<int>() > 1);
      BOOST_TEST(f["js_stack"][1]["function"] == "onTick");
      // node's own frames below the callback are kept: the timer that ran it.
      BOOST_TEST(js_stack_names(f["js_stack"], "listOnTimeout"), f["js_stack"].dump());
      // The native stack is still there, down to libuv's call.
      BOOST_TEST(stack_has_function(f["stack"], "uv_fs_fsync"), r.describe());
      BOOST_TEST(r.reports.at(0).start["hooks"]["node_js_stacks"] == true);
      // The stderr line names the JavaScript function.
      BOOST_TEST(r.err.find("at saveStateSynchronously (" + script + ":" + std::to_string(line) +
                            ":") != std::string::npos,
                 r.err);
    }
  }
}

BOOST_AUTO_TEST_CASE(exec_sync_in_a_timer_callback_waits_on_a_private_loop) {
  if (!have_node()) return;
  std::string script = node_victim("exec_sync_in_timer.js");
  for (const Node& node : nodes()) {
    BOOST_TEST_CONTEXT(node.exe) {
      RunResult r = run_node(node, {script});
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.out == "done\n");
      auto findings = r.findings("blocking-call");
      BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
      json f = findings[0];
      BOOST_TEST((f["call"] == "epoll_wait" || f["call"] == "epoll_pwait"), f["call"].dump());
      BOOST_TEST(f["thread"]["role"] == "loop");
      BOOST_REQUIRE_MESSAGE(f["js_stack"].is_array() && !f["js_stack"].empty(), r.describe());
      BOOST_TEST(f["js_stack"][0]["function"] == "runsChildSynchronously");
      BOOST_TEST(f["js_stack"][0]["line"] == line_of(script, "EXEC-SYNC-HERE"));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_hot_call_site_stays_one_finding_while_v8_optimizes_it) {
  if (!have_node()) return;
  std::string script = node_victim("hot_fsync.js");
  // On tmpfs when there is one: 10000 fsyncs of a disk file would take long.
  std::string dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : make_temp_dir();
  std::string file = dir + "/loopsan-hot-fsync-" + std::to_string(getpid());
  for (const Node& node : nodes()) {
    BOOST_TEST_CONTEXT(node.exe) {
      RunResult r = run_node(node, {script, file});
      unlink(file.c_str());
      BOOST_TEST(r.exit_code == 0, r.describe());
      auto findings = r.findings("blocking-call");
      BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
      BOOST_TEST(findings[0]["js_stack"][0]["function"] == "flushHot");
      BOOST_TEST(findings[0]["js_stack"][0]["line"] == line_of(script, "HOT-FSYNC"));
      const json& summary = r.reports.at(0).summary;
      std::string id = findings[0]["id"];
      BOOST_TEST(summary["repeats"][id] == 9999, summary.dump());
    }
  }
}

BOOST_AUTO_TEST_CASE(two_functions_with_the_same_native_stack_are_two_findings) {
  if (!have_node()) return;
  std::string script = node_victim("two_sites.js");
  for (const Node& node : nodes()) {
    BOOST_TEST_CONTEXT(node.exe) {
      RunResult r = run_node(node, {script, make_temp_dir() + "/state"});
      BOOST_TEST(r.exit_code == 0, r.describe());
      auto findings = r.findings("blocking-call");
      BOOST_REQUIRE_MESSAGE(findings.size() == 2u, r.describe());
      BOOST_TEST(findings[0]["js_stack"][0]["function"] == "saveUsers");
      BOOST_TEST(findings[0]["js_stack"][0]["line"] == line_of(script, "USERS"));
      BOOST_TEST(findings[1]["js_stack"][0]["function"] == "saveOrders");
      BOOST_TEST(findings[1]["js_stack"][0]["line"] == line_of(script, "ORDERS"));
      const json& repeats = r.reports.at(0).summary["repeats"];
      for (const auto& f : findings) {
        BOOST_TEST(repeats[f["id"].get<std::string>()] == 2, repeats.dump());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_worker_thread_reports_with_its_own_javascript_stack) {
  if (!have_node()) return;
  std::string script = node_victim("fsync_in_worker.js");
  for (const Node& node : nodes()) {
    BOOST_TEST_CONTEXT(node.exe) {
      RunResult r = run_node(node, {script, make_temp_dir() + "/journal"});
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.out == "worker exited 0\n");
      // Only the fsync: node itself may join the finished worker's thread from the loop.
      std::vector<json> findings;
      for (const json& f : r.findings("blocking-call")) {
        if (f["call"] == "fsync") findings.push_back(f);
      }
      BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
      json f = findings[0];
      BOOST_TEST(f["call"] == "fsync");
      BOOST_TEST(f["thread"]["tid"] != r.reports.at(0).start["pid"]);
      BOOST_REQUIRE_MESSAGE(f["js_stack"].is_array() && !f["js_stack"].empty(), r.describe());
      BOOST_TEST(f["js_stack"][0]["function"] == "flushJournalInWorker");
      BOOST_TEST(f["js_stack"][0]["line"] == line_of(script, "WORKER-FSYNC-HERE"));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_clean_node_program_has_no_finding) {
  if (!have_node()) return;
  for (const Node& node : nodes()) {
    BOOST_TEST_CONTEXT(node.exe) {
      RunResult r = run_node(node, {node_victim("clean.js")});
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.out == "true ping child\n");
      BOOST_TEST(r.findings().empty(), r.describe());
      BOOST_TEST(r.reports.empty(), r.describe());
    }
  }
}

BOOST_AUTO_TEST_CASE(synchronous_work_during_startup_is_not_a_finding) {
  if (!have_node()) return;
  for (const Node& node : nodes()) {
    BOOST_TEST_CONTEXT(node.exe) {
      RunResult r = run_node(node, {node_victim("sync_at_startup.js")});
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.out == "started true\n");
      BOOST_TEST(r.findings().empty(), r.describe());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_suppression_matches_javascript_functions_and_scripts) {
  if (!have_node()) return;
  std::string dir = make_temp_dir();
  std::string by_function = dir + "/by_function.supp";
  std::string by_script = dir + "/by_script.supp";
  std::ofstream(by_function) << "blocking-call:saveState*\n";
  std::ofstream(by_script) << "blocking-call:*/fsync_in_timer.js\n";
  const Node node = nodes().front();
  for (const std::string& file : {by_function, by_script}) {
    BOOST_TEST_CONTEXT(file) {
      RunResult r = run_node(node, {node_victim("fsync_in_timer.js"), dir + "/state.json"},
                             "suppressions=" + file);
      BOOST_TEST(r.exit_code == 0, r.describe());
      BOOST_TEST(r.findings().empty(), r.describe());
    }
  }
}

BOOST_AUTO_TEST_CASE(js_stacks_0_keeps_the_native_stack_only) {
  if (!have_node()) return;
  const Node node = nodes().front();
  RunResult r =
      run_node(node, {node_victim("fsync_in_timer.js"), make_temp_dir() + "/state"}, "js_stacks=0");
  auto findings = r.findings("blocking-call");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  BOOST_TEST(!findings[0].contains("js_stack"), findings[0].dump());
  BOOST_TEST(stack_has_function(findings[0]["stack"], "uv_fs_fsync"), r.describe());
  BOOST_TEST(!r.reports.at(0).start["hooks"].contains("node_js_stacks"));
}

BOOST_AUTO_TEST_CASE(the_text_report_prints_the_javascript_stack) {
  if (!have_node()) return;
  std::string script = node_victim("fsync_in_timer.js");
  RunResult r = run_node(nodes().front(), {script, make_temp_dir() + "/state"});
  BOOST_REQUIRE_MESSAGE(r.findings("blocking-call").size() == 1u, r.describe());
  RunResult text =
      run({.argv = {cli_path(), "report", "--no-symbolize", r.report_dir}, .preload = false});
  BOOST_TEST(text.exit_code == 0, text.describe());
  std::string expected =
      "  JavaScript stack (most recent call first):\n"
      "    #0 saveStateSynchronously at " +
      script + ":" + std::to_string(line_of(script, "FSYNC-HERE")) + ":";
  BOOST_TEST(text.out.find(expected) != std::string::npos, text.out);
  BOOST_TEST(text.out.find("    #1 onTick at " + script) != std::string::npos, text.out);
  // JavaScript before native, as Python is.
  BOOST_TEST(text.out.find("JavaScript stack") < text.out.find("Native stack"), text.out);
}

BOOST_AUTO_TEST_CASE(outside_node_there_is_no_javascript_anything) {
  std::string file = make_temp_dir() + "/state";
  RunResult r = run({.argv = {victim("loop_victim"), "fsync-in-loop", file}});
  auto findings = r.findings("blocking-call");
  BOOST_REQUIRE_MESSAGE(findings.size() == 1u, r.describe());
  BOOST_TEST(!findings[0].contains("js_stack"), findings[0].dump());
  BOOST_TEST(!r.reports.at(0).start["hooks"].contains("node_js_stacks"));
}

BOOST_AUTO_TEST_SUITE_END()
