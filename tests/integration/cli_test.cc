// The loopsan command: run, report, --help, --version.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/harness.h"

using namespace loopsan::test;

BOOST_AUTO_TEST_SUITE(cli)

BOOST_AUTO_TEST_CASE(run_summarizes_findings_and_keeps_the_status) {
  std::string dir = make_temp_dir();
  RunResult r = run({.argv = {cli_path(), "run", "--report-dir", dir, "--", victim("loop_victim"),
                              "exit", "4", "finding"},
                     .preload = false});
  BOOST_TEST(r.exit_code == 4, r.describe());
  BOOST_TEST(
      r.err.find("==loopsan== 1 finding (blocking-call: 1) in 1 report") != std::string::npos,
      r.err);
  BOOST_TEST(read_reports(dir).size() == 1u);
}

BOOST_AUTO_TEST_CASE(run_error_exitcode_on_findings_only) {
  std::string dir = make_temp_dir();
  RunResult bad = run({.argv = {cli_path(), "run", "--report-dir", dir, "--error-exitcode", "3",
                                "--", victim("loop_victim"), "sleep-in-loop"},
                       .preload = false});
  BOOST_TEST(bad.exit_code == 3, bad.describe());
  RunResult good = run({.argv = {cli_path(), "run", "--report-dir", make_temp_dir(),
                                 "--error-exitcode", "3", "--", victim("loop_victim"), "clean"},
                        .preload = false});
  BOOST_TEST(good.exit_code == 0, good.describe());
  BOOST_TEST(good.err.find("==loopsan== 0 findings") != std::string::npos, good.err);
}

BOOST_AUTO_TEST_CASE(run_covers_the_process_tree_and_ignores_other_reports) {
  std::string dir = make_temp_dir();
  // A stale report from another run in the same directory must not be counted.
  std::ofstream(dir + "/loopsan.old.1.jsonl")
      << R"({"type":"start","schema":1,"pid":1,"session":"other"})"
      << "\n"
      << R"({"type":"finding","kind":"blocking-call","id":"00","message":"old"})"
      << "\n";
  RunResult r = run({.argv = {cli_path(), "run", "--report-dir", dir, "--", "sh", "-c",
                              victim("loop_victim") + " fork"},
                     .preload = false});
  BOOST_TEST(r.exit_code == 0, r.describe());
  // Parent and forked child of the victim (sh itself has no finding and no file).
  BOOST_TEST(
      r.err.find("==loopsan== 2 findings (blocking-call: 2) in 2 reports") != std::string::npos,
      r.err);
}

BOOST_AUTO_TEST_CASE(run_keeps_an_existing_ld_preload_and_passes_options) {
  std::string dir = make_temp_dir();
  RunResult r =
      run({.argv = {cli_path(), "run", "--report-dir", dir, "-o", "stack_depth=5", "--", "sh", "-c",
                    "echo $LD_PRELOAD; " + victim("loop_victim") + " sleep-in-loop"},
           .preload = false,
           .env = {{"LD_PRELOAD", "libm.so.6"}}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.out.find("libloopsan.so libm.so.6") != std::string::npos, r.out);
  auto reports = read_reports(dir);
  BOOST_REQUIRE(reports.size() == 1u);
  BOOST_TEST(reports[0].findings.at(0)["stack"].size() <= 5u);
}

BOOST_AUTO_TEST_CASE(run_propagates_death_by_signal) {
  RunResult r = run({.argv = {cli_path(), "run", "--report-dir", make_temp_dir(), "--",
                              victim("loop_victim"), "crash"},
                     .preload = false});
  BOOST_TEST(r.term_signal == SIGSEGV, r.describe());
}

BOOST_AUTO_TEST_CASE(report_text_reads_like_a_sanitizer_report) {
  std::string script = python_victim("sleep_in_coroutine.py");
  RunResult r = run({.argv = {python(), script}});
  BOOST_REQUIRE(r.reports.size() == 1u);
  // --full-stacks: the Python and native stacks apart, each whole (the default merges them).
  RunResult text =
      run({.argv = {cli_path(), "report", "--full-stacks", r.reports[0].path}, .preload = false});
  BOOST_TEST(text.exit_code == 0, text.describe());
  const std::string& out = text.out;
  size_t kind = out.find("loopsan: blocking-call: clock_nanosleep");
  size_t thread = out.find("thread ");
  size_t py = out.find("Python stack (most recent call first):");
  size_t handler = out.find("#0 slow_handler at " + script + ":" +
                            std::to_string(line_of(script, "BLOCKING-CALL-HERE")));
  size_t native = out.find("Native stack:");
  size_t time_sleep = out.find(" in time_sleep");
  BOOST_TEST(kind != std::string::npos, out);
  BOOST_TEST(thread > kind);
  BOOST_TEST(py > thread);
  BOOST_TEST(handler > py, out);
  BOOST_TEST(native > handler);
  BOOST_TEST(time_sleep > native, out);
  bool module_named =
      out.find("libpython3") != std::string::npos || out.find("python3.11+0x") != std::string::npos;
  BOOST_TEST(module_named, out);
  BOOST_TEST(
      out.find("SUMMARY: loopsan: 1 finding (blocking-call: 1) in 1 report") != std::string::npos,
      out);
}

BOOST_AUTO_TEST_CASE(report_merges_ids_across_files_and_counts_repeats) {
  RunResult a = run({.argv = {victim("loop_victim"), "sleep-in-loop"}});
  RunResult b = run({.argv = {victim("loop_victim"), "sleep-in-loop"}});
  RunResult json =
      run({.argv = {cli_path(), "report", "--format", "json", a.report_dir, b.report_dir},
           .preload = false});
  BOOST_TEST(json.exit_code == 0, json.describe());
  std::istringstream lines(json.out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    auto f = nlohmann::json::parse(line);
    BOOST_TEST(f["kind"] == "blocking-call");
    BOOST_TEST(f["occurrences"] == 6);  // 3 per run, 2 runs
    ++n;
  }
  BOOST_TEST(n == 1);
}

BOOST_AUTO_TEST_CASE(report_survives_malformed_input_with_one_message) {
  std::string dir = make_temp_dir();
  RunResult good = run({.argv = {victim("loop_victim"), "sleep-in-loop"}});
  std::string path = dir + "/loopsan.mixed.1.jsonl";
  {
    std::ifstream in(good.reports.at(0).path);
    std::ofstream out(path);
    out << in.rdbuf();
    out << "this is not json\n{\"type\":\"finding\",\"kind\":5,\"thread\":\"x\",\"stack\":[1,2]}\n"
        << "{\"truncated\": \n";
  }
  RunResult r =
      run({.argv = {cli_path(), "report", "--error-exitcode", "5", path}, .preload = false});
  BOOST_TEST(r.exit_code == 5, r.describe());
  BOOST_TEST(r.out.find("on_tick_sleeps") != std::string::npos, r.out);
  BOOST_TEST(r.err.find("skipped 2 line(s)") != std::string::npos, r.err);
  RunResult missing = run({.argv = {cli_path(), "report", dir + "/nope.jsonl"}, .preload = false});
  BOOST_TEST(missing.exit_code == 2);
  BOOST_TEST(missing.err.find("no such file") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(help_and_version) {
  RunResult v = run({.argv = {cli_path(), "--version"}, .preload = false});
  BOOST_TEST(v.exit_code == 0);
  BOOST_TEST(v.out.rfind("loopsan ", 0) == 0u);
  RunResult h = run({.argv = {cli_path(), "--help"}, .preload = false});
  BOOST_TEST(h.exit_code == 0);
  BOOST_TEST(h.out.find("loopsan run") != std::string::npos);
  BOOST_TEST(h.out.find("loopsan report") != std::string::npos);
  RunResult bad = run({.argv = {cli_path(), "frobnicate"}, .preload = false});
  BOOST_TEST(bad.exit_code == 2);
}

// Release code (-O2 -g) inlines the guilty function: the report's JSON names it from DWARF, at
// its own line, in the frame it was inlined into, and the text shows it as "(inlined)"; the
// thread's stack holds none of loopsan's own frames (the thread-start trampoline).
BOOST_AUTO_TEST_CASE(report_names_inlined_functions_at_their_lines) {
  std::string source = std::string(LOOPSAN_TEST_CONSUMER_DIR) + "/../victims/inlined_victim.cc";
  for (const std::string mode : {"main", "thread"}) {
    BOOST_TEST_CONTEXT(mode) {
      std::string dir = make_temp_dir();
      RunResult r = run({.argv = {victim("inlined_victim"), mode, dir + "/config"},
                         .options = "report_dir=" + dir + ",log_to_stderr=0"});
      BOOST_TEST(r.exit_code == 0, r.describe());
      RunResult json_out =
          run({.argv = {cli_path(), "report", "--format", "json", dir}, .preload = false});
      BOOST_REQUIRE(json_out.exit_code == 0);
      auto finding = nlohmann::json::parse(json_out.out.substr(0, json_out.out.find('\n')));
      bool named = false;
      for (const auto& frame : finding["stack"]) {
        BOOST_TEST(frame["module"].get<std::string>().find("libloopsan") == std::string::npos,
                   frame.dump());
        if (!frame.contains("inlined")) continue;
        const auto& inlined = frame["inlined"];
        if (inlined.size() >= 2 && inlined[0]["function"] == "refresh_config" &&
            inlined[0]["line"] == line_of(source, "BLOCKING-LINE") &&
            inlined[1]["function"] == "on_tick" &&
            inlined[1]["line"] == line_of(source, "TICK-LINE")) {
          named = true;
        }
      }
      BOOST_TEST(named, json_out.out);
      RunResult text = run({.argv = {cli_path(), "report", dir}, .preload = false});
      BOOST_TEST(text.out.find("in refresh_config ") != std::string::npos, text.out);
      // The first line under the message names the user's own guilty frame.
      BOOST_TEST(text.out.find("\n  at refresh_config (inlined_victim.cc:" +
                               std::to_string(line_of(source, "BLOCKING-LINE")) + ")\n") !=
                     std::string::npos,
                 text.out);
      BOOST_TEST(
          text.out.find("inlined_victim.cc:" + std::to_string(line_of(source, "BLOCKING-LINE")) +
                        " (inlined)") != std::string::npos,
          text.out);
    }
  }
}

// The issue's example: a throw inside a static function called from a thread lambda. binutils
// named it _M_run(); DWARF names validate_config at the throw's line, and the text points there.
BOOST_AUTO_TEST_CASE(a_throw_inlined_into_a_thread_lambda_is_named) {
  std::string source = std::string(LOOPSAN_TEST_CONSUMER_DIR) + "/../victims/inlined_victim.cc";
  std::string dir = make_temp_dir();
  RunResult r = run({.argv = {victim("inlined_victim"), "throw", dir + "/config"},
                     .options = "report_dir=" + dir + ",log_to_stderr=0"});
  BOOST_TEST(r.exit_code == 0, r.describe());
  RunResult json_out =
      run({.argv = {cli_path(), "report", "--format", "json", dir}, .preload = false});
  auto finding = nlohmann::json::parse(json_out.out.substr(0, json_out.out.find('\n')));
  BOOST_TEST(finding["kind"] == "unretrieved-exception");
  // Neither stack shows loopsan's own frames (the __cxa_throw wrapper, the thread trampoline).
  for (const char* key : {"throw_stack", "stack"}) {
    BOOST_TEST(finding[key].size() > 0u, key);
    for (const auto& frame : finding[key]) {
      BOOST_TEST(frame["module"].get<std::string>().find("libloopsan") == std::string::npos,
                 frame.dump());
    }
  }
  bool named = false;
  for (const auto& frame : finding["throw_stack"]) {
    if (!frame.contains("inlined")) continue;
    const auto& in = frame["inlined"][0];
    named |= in["function"] == "validate_config" && in["line"] == line_of(source, "THROW-LINE");
  }
  BOOST_TEST(named, json_out.out);
  RunResult text = run({.argv = {cli_path(), "report", dir}, .preload = false});
  BOOST_TEST(
      text.out.find("\n  at validate_config (inlined_victim.cc:" +
                    std::to_string(line_of(source, "THROW-LINE")) + ")\n") != std::string::npos,
      text.out);
}

// `loopsan run`'s summary points at the same guilty line as `loopsan report`.
BOOST_AUTO_TEST_CASE(run_summary_names_the_guilty_line) {
  std::string source = std::string(LOOPSAN_TEST_CONSUMER_DIR) + "/../victims/inlined_victim.cc";
  std::string dir = make_temp_dir();
  RunResult r = run({.argv = {cli_path(), "run", "--report-dir", dir, "-o", "log_to_stderr=0", "--",
                              victim("inlined_victim"), "thread", dir + "/config"},
                     .preload = false});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(
      r.err.find("==loopsan==     at refresh_config (inlined_victim.cc:" +
                 std::to_string(line_of(source, "BLOCKING-LINE")) + ")\n") != std::string::npos,
      r.err);
}

// A stripped release binary whose DWARF lives only in a build-id debug file elsewhere (as a
// -dbgsym package or a symbol store keeps it): --debuginfo-path finds it, and the inlined
// function is named at its line; without it the frames keep their symbol-table names.
BOOST_AUTO_TEST_CASE(debug_info_found_by_build_id_in_a_debuginfo_path) {
  std::string source = std::string(LOOPSAN_TEST_CONSUMER_DIR) + "/../victims/inlined_victim.cc";
  std::string dir = make_temp_dir(), store = make_temp_dir();
  std::string stripped = dir + "/inlined_victim", debug = dir + "/victim.debug";
  std::string original = victim("inlined_victim");
  RunResult prep =
      run({.argv = {"sh", "-c",
                    "objcopy --only-keep-debug '" + original + "' '" + debug +
                        "' && objcopy --strip-debug '" + original + "' '" + stripped +
                        "' && readelf -nW '" + original + "' | sed -n 's/.*Build ID: //p'"},
           .preload = false});
  BOOST_REQUIRE(prep.exit_code == 0);
  std::string id = prep.out.substr(0, prep.out.find('\n'));
  BOOST_REQUIRE(id.size() > 2u);
  std::filesystem::create_directories(store + "/.build-id/" + id.substr(0, 2));
  std::filesystem::rename(debug,
                          store + "/.build-id/" + id.substr(0, 2) + "/" + id.substr(2) + ".debug");
  std::string reports = make_temp_dir();
  RunResult r = run({.argv = {stripped, "main", reports + "/config"},
                     .options = "report_dir=" + reports + ",log_to_stderr=0"});
  BOOST_TEST(r.exit_code == 0, r.describe());
  std::string expected = "\n  at refresh_config (inlined_victim.cc:" +
                         std::to_string(line_of(source, "BLOCKING-LINE")) + ")\n";
  RunResult with =
      run({.argv = {cli_path(), "report", "--debuginfo-path", store, reports}, .preload = false});
  BOOST_TEST(with.out.find(expected) != std::string::npos, with.out);
  RunResult without = run({.argv = {cli_path(), "report", reports}, .preload = false});
  BOOST_TEST(without.exit_code == 0, without.describe());
  BOOST_TEST(without.out.find("refresh_config") == std::string::npos, without.out);
  BOOST_TEST(without.out.find("inlined_victim.cc:") == std::string::npos, without.out);
  BOOST_TEST(without.err.empty(), without.err);
}

// A module rebuilt or replaced since the report was written has another build-id: its lines
// would be wrong, so its frames keep the report's names, and the CLI says why once.
BOOST_AUTO_TEST_CASE(a_module_replaced_since_the_report_is_not_symbolized) {
  std::string dir = make_temp_dir(), reports = make_temp_dir();
  std::string copy = dir + "/inlined_victim";
  std::filesystem::copy_file(victim("inlined_victim"), copy);
  RunResult r = run({.argv = {copy, "main", reports + "/config"},
                     .options = "report_dir=" + reports + ",log_to_stderr=0"});
  BOOST_TEST(r.exit_code == 0, r.describe());
  std::filesystem::copy_file(victim("loop_victim"), copy,
                             std::filesystem::copy_options::overwrite_existing);
  RunResult text = run({.argv = {cli_path(), "report", reports}, .preload = false});
  BOOST_TEST(text.exit_code == 0, text.describe());
  BOOST_TEST(text.err.find(copy + " is not the file the report saw") != std::string::npos,
             text.err);
  BOOST_TEST(text.out.find("inlined_victim.cc:") == std::string::npos, text.out);
  BOOST_TEST(text.out.find("loop_victim.cc:") == std::string::npos, text.out);
}

// A report is symbolized from the modules it names, wherever the report file itself is: a copy
// in another directory gives the same frames.
BOOST_AUTO_TEST_CASE(a_copied_report_symbolizes_the_same) {
  std::string dir = make_temp_dir(), elsewhere = make_temp_dir();
  RunResult r = run({.argv = {victim("inlined_victim"), "main", dir + "/config"},
                     .options = "report_dir=" + dir + ",log_to_stderr=0"});
  BOOST_TEST(r.exit_code == 0, r.describe());
  std::vector<ReportFile> written = read_reports(dir);
  BOOST_REQUIRE(written.size() == 1u);
  std::filesystem::copy_file(written[0].path, elsewhere + "/loopsan.copy.1.jsonl");
  auto stack_of = [](const std::string& from) {
    RunResult out =
        run({.argv = {cli_path(), "report", "--format", "json", from}, .preload = false});
    return nlohmann::json::parse(out.out.substr(0, out.out.find('\n')))["stack"];
  };
  auto here = stack_of(dir), there = stack_of(elsewhere);
  BOOST_TEST(here == there, here.dump() << "\n" << there.dump());
  BOOST_TEST(here.dump().find("\"inlined\"") != std::string::npos, here.dump());
}

// boost::asio's frames carry hundreds of characters of template arguments: the default text
// shortens them (<…>), folds runs of library internals, and still names the handler and
// io_context::run, each frame on one line of at most 160 characters.
BOOST_AUTO_TEST_CASE(report_text_keeps_asio_frames_readable) {
  std::string dir = make_temp_dir();
  RunResult r = run({.argv = {victim("asio_victim"), "sleep"},
                     .options = "report_dir=" + dir + ",log_to_stderr=0"});
  BOOST_TEST(r.exit_code == 0, r.describe());
  RunResult text = run({.argv = {cli_path(), "report", dir}, .preload = false});
  BOOST_TEST(text.out.find("in on_timer_sleeps ") != std::string::npos, text.out);
  BOOST_TEST(text.out.find("io_context::run()") != std::string::npos, text.out);
  std::istringstream lines(text.out);
  std::string line;
  // The frame numbers around a fold add up: "#3", "… 5 frames …", "#9".
  int last = -1, folded = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("    #", 0) == 0) {
      BOOST_TEST(line.size() <= 160u, line);
      int number = std::stoi(line.substr(5));
      if (folded > 0) BOOST_TEST(number == last + folded + 1, text.out);
      last = number;
      folded = 0;
    } else if (line.rfind("    … ", 0) == 0) {
      folded = std::stoi(line.substr(line.find(' ', 5) + 1));
    }
  }
  RunResult full = run({.argv = {cli_path(), "report", "--full-stacks", dir}, .preload = false});
  BOOST_TEST(full.out.find("any_executor<") != std::string::npos, "--full-stacks keeps names");
}

// A Python finding's guilty frame is the coroutine's line, not the interpreter's C frames.
BOOST_AUTO_TEST_CASE(report_text_points_at_the_python_line_first) {
  std::string script = python_victim("sleep_in_coroutine.py");
  std::string dir = make_temp_dir();
  RunResult r = run({.argv = {python(), script}, .options = "report_dir=" + dir});
  BOOST_TEST(r.exit_code == 0, r.describe());
  RunResult text = run({.argv = {cli_path(), "report", dir}, .preload = false});
  std::string expected = "\n  at slow_handler (sleep_in_coroutine.py:" +
                         std::to_string(line_of(script, "BLOCKING-CALL-HERE")) + ")\n";
  BOOST_TEST(text.out.find(expected) != std::string::npos, text.out);
  // The merged stack, top down: the libc call, time.sleep's C function, the coroutine's line;
  // none of the interpreter's internals unless --full-stacks.
  size_t libc = text.out.find("#0 clock_nanosleep (libc)");
  size_t builtin = text.out.find("#1 time_sleep ");
  size_t coroutine = text.out.find("#2 slow_handler at " + script + ":" +
                                   std::to_string(line_of(script, "BLOCKING-CALL-HERE")));
  BOOST_TEST((libc != std::string::npos && builtin > libc && coroutine > builtin &&
              coroutine != std::string::npos),
             text.out);
  BOOST_TEST(text.out.find("_PyEval_EvalFrameDefault") == std::string::npos, text.out);
  BOOST_TEST(text.out.find("Py_RunMain") == std::string::npos, text.out);
  RunResult full = run({.argv = {cli_path(), "report", "--full-stacks", dir}, .preload = false});
  BOOST_TEST(full.out.find("_PyEval_EvalFrameDefault") != std::string::npos, full.out);
  BOOST_TEST(full.out.find("Python stack (most recent call first)") != std::string::npos, full.out);
}

// Python called back from C (a ctypes callback that qsort calls) is a second run of the
// interpreter's eval loop: the merged stack splices each run of Python frames where its eval
// loop is, so qsort shows between the callback and the coroutine that called qsort, and the
// JSON marks the frame each run began with ("entry").
BOOST_AUTO_TEST_CASE(merged_stack_keeps_c_between_python_frames) {
  std::string script = python_victim("callback_from_c.py");
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      std::string dir = make_temp_dir();
      RunResult r =
          run({.argv = {py, script}, .options = "report_dir=" + dir + ",log_to_stderr=0"});
      BOOST_TEST(r.exit_code == 0, r.describe());
      RunResult text = run({.argv = {cli_path(), "report", dir}, .preload = false});
      std::string merged = text.out.substr(text.out.find("Stack, Python and native"));
      size_t sleep = merged.find("#0 clock_nanosleep (libc)");
      size_t callback = merged.find(" by_value at " + script + ":" +
                                    std::to_string(line_of(script, "BLOCKING-CALL-HERE")));
      size_t qsort = merged.find("qsort");
      size_t caller = merged.find(" sort_numbers at " + script + ":" +
                                  std::to_string(line_of(script, "QSORT-CALL-HERE")));
      size_t outer = merged.find(" main at " + script);
      BOOST_TEST((sleep != std::string::npos && callback != std::string::npos &&
                  qsort != std::string::npos && caller != std::string::npos &&
                  outer != std::string::npos && sleep < callback && callback < qsort &&
                  qsort < caller && caller < outer),
                 merged);
      BOOST_TEST(merged.find("Py_RunMain") == std::string::npos, merged);
      BOOST_TEST(merged.find("cfunction_vectorcall") == std::string::npos, merged);
      RunResult json_out =
          run({.argv = {cli_path(), "report", "--format", "json", dir}, .preload = false});
      auto finding = nlohmann::json::parse(json_out.out.substr(0, json_out.out.find('\n')));
      const auto& python = finding["python_stack"];
      BOOST_REQUIRE(python.size() >= 3u);
      BOOST_TEST(python[0]["function"] == "by_value");
      BOOST_TEST(python[0].value("entry", false), python.dump());
      BOOST_TEST(python[1]["function"] == "sort_numbers");
      BOOST_TEST(python[1].value("entry", false), python.dump());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
