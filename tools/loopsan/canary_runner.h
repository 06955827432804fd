// Running the selftest's canaries: child processes, a few at a time, each in its own process
// group with a time limit, and short commands whose output is read (runtime probes).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace loopsan::cli {

struct ChildSpec {
  std::vector<std::string> argv;  // argv[0] is a path
  std::vector<std::string> env;   // "KEY=value", the whole environment
  std::string stdout_path;        // where its output goes ("" = /dev/null)
  std::string stderr_path;
};

struct ChildResult {
  bool started = false;  // false: fork failed (exec failures exit 127)
  bool timed_out = false;
  bool stopped = false;  // killed because `enough` said so
  int exit_status = -1;
  int signal = 0;
  double seconds = 0;
};

// Runs every spec, at most `jobs` at a time, killing (with its process group) any that runs
// longer than `timeout_s`, or as soon as `enough(i)`, asked every 50 ms, says it has done what
// it was run for. `on_done(i)` is called as each one ends. Returns false if a SIGINT/SIGTERM
// interrupted the run (the children were killed).
bool run_children(const std::vector<ChildSpec>& specs, int jobs, double timeout_s,
                  std::vector<ChildResult>& results, const std::function<bool(size_t)>& enough,
                  const std::function<void(size_t)>& on_done);

// Runs `argv` (found on PATH if it has no '/') with `env` and returns its standard output, or
// false if it could not run, failed, or ran longer than `timeout_s`.
bool capture_output(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                    double timeout_s, std::string& out);

// The environment of this process, without the variables named in `drop`.
std::vector<std::string> environment_without(const std::vector<std::string>& drop);

// The file `name` would run as: itself if it has a '/', else the first executable on PATH.
std::string find_program(const std::string& name);

// "SIGSEGV", or "signal N".
std::string signal_text(int sig);

}  // namespace loopsan::cli
