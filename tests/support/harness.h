// Test support: run a victim program (under the shim or not) and read what it left behind.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/stacks.h"

namespace loopsan::test {

// Paths fixed at configure time (tests/CMakeLists.txt).
std::string shim_path();
std::string cli_path();
std::string victim(const std::string& name);         // a C++ victim binary
std::string python_victim(const std::string& name);  // a Python victim script
std::string python();                // the python3 first on PATH when the tests were configured
std::string system_python();         // Debian's /usr/bin/python3
std::vector<std::string> pythons();  // both, without duplicates

struct RunSpec {
  std::vector<std::string> argv;
  bool preload = true;
  std::string options;  // LOOPSAN_OPTIONS; report_dir is added unless it is set here
  std::vector<std::pair<std::string, std::string>> env;
  int timeout_s = 120;
  // SIGKILL the victim as soon as its stderr contains this text (a process that then hangs
  // for good, once loopsan has written what the test wants); empty: never.
  std::string kill_when_stderr_has;
};

struct ReportFile {
  std::string path;
  nlohmann::json start;
  std::vector<nlohmann::json> findings;
  nlohmann::json summary;  // null when absent
};

struct RunResult {
  int exit_code = -1;   // when the process exited
  int term_signal = 0;  // when a signal ended it
  std::string out;
  std::string err;
  std::string report_dir;
  std::vector<ReportFile> reports;

  // All findings of all reports (optionally of one kind).
  std::vector<nlohmann::json> findings(const std::string& kind = "") const;
  // The report written by process `pid`, or null.
  const ReportFile* report_of(long pid) const;
  std::string describe() const;  // for failure messages
};

// Runs the victim in a fresh report directory and collects its reports.
RunResult run(const RunSpec& spec);

// Reads every loopsan.*.jsonl of `dir`.
std::vector<ReportFile> read_reports(const std::string& dir);

// The 1-based line of the first line of `file` containing `marker`, or -1.
int line_of(const std::string& file, const std::string& marker);

// A fresh directory under $TMPDIR, removed at the end of the test program if every test passed
// (kept for inspection otherwise, or with LOOPSAN_TEST_KEEP=1).
std::string make_temp_dir();
void remove_temp_dirs();

}  // namespace loopsan::test
