// `loopsan run [--report-dir D] [--error-exitcode N] [-o key=value]... -- PROGRAM ARGS...`
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>

#include "agent/base/options.h"
#include "tools/loopsan/commands.h"
#include "tools/loopsan/guilty_frame.h"
#include "tools/loopsan/report_json.h"
#include "tools/loopsan/report_reader.h"
#include "tools/loopsan/source_locations.h"

namespace loopsan::cli {
namespace {

pid_t child_pid = 0;

void forward_signal(int sig) {
  if (child_pid > 0) kill(child_pid, sig);
}

int usage(std::ostream& out, int status) {
  out << "usage: loopsan run [--report-dir DIR] [--error-exitcode N] [-o key=value]... -- "
         "PROGRAM [ARGS...]\n"
         "  Runs PROGRAM (and every process it starts) with loopsan preloaded, then summarizes\n"
         "  the reports they wrote. Exits with PROGRAM's status, or N with --error-exitcode N\n"
         "  when there were findings.\n"
         "  --report-dir DIR   where reports go (default: the current directory)\n"
         "  -o key=value       a LOOPSAN_OPTIONS setting (see LOOPSAN_OPTIONS=help=1)\n";
  return status;
}

std::string absolute(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

std::string session_token() {
  std::random_device rd;
  char buf[64];
  snprintf(buf, sizeof buf, "%d-%08x%08x", getpid(), rd(), rd());
  return buf;
}

// Reports of this run: loopsan.*.jsonl in `dir` whose start line carries our session.
std::vector<Report> session_reports(const std::string& dir, const std::string& session) {
  std::vector<std::string> errors;
  std::vector<Report> reports;
  for (const std::string& path : expand_inputs({dir}, errors)) {
    Report r;
    std::string error;
    if (!read_report(path, r, error)) continue;
    if (!r.start.is_object() || !r.start.contains("session") || r.start["session"] != session) {
      continue;
    }
    reports.push_back(std::move(r));
  }
  return reports;
}

void print_summary(const std::vector<Report>& reports) {
  std::vector<DistinctFinding> findings = distinct_findings(reports);
  std::map<std::string, long> by_kind;
  // Each finding's guilty line, symbolized as `loopsan report` does.
  SourceLocations lines;
  for (const auto& d : findings) {
    by_kind[str(d.finding, "kind", "unknown")] += 1;
    lines.add_finding(d.finding);
  }
  lines.resolve();
  std::cerr << "==loopsan== " << findings.size()
            << (findings.size() == 1 ? " finding" : " findings");
  if (!findings.empty()) std::cerr << " (" << kinds_text(by_kind) << ")";
  std::cerr << " in " << reports.size() << (reports.size() == 1 ? " report" : " reports") << "\n";
  for (const auto& d : findings) {
    std::cerr << "==loopsan==   " << str(d.finding, "kind") << ": " << str(d.finding, "message")
              << " [" << d.process << "]\n";
    std::string guilty = guilty_frame(d.finding, lines);
    if (!guilty.empty()) std::cerr << "==loopsan==     at " << guilty << "\n";
  }
  for (const auto& r : reports) {
    if (!r.summary.is_object()) {
      std::cerr << "==loopsan==   " << r.path
                << ": no summary (the process was killed or is still running)\n";
    }
  }
  if (!reports.empty()) {
    std::cerr << "==loopsan== details: loopsan report";
    for (const auto& r : reports) std::cerr << " " << r.path;
    std::cerr << "\n";
  }
}

}  // namespace

std::string option_value(const std::string& v) {
  if (v.find_first_of(":, \t\n'\"") == std::string::npos) return v;
  return v.find('\'') == std::string::npos ? "'" + v + "'" : "\"" + v + "\"";
}

int run_command(const std::vector<std::string>& args) {
  std::string report_dir;
  int error_exitcode = 0;
  std::vector<std::string> settings;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "--help" || a == "-h") return usage(std::cout, 0);
    if (a == "--report-dir" && i + 1 < args.size()) {
      report_dir = args[++i];
    } else if (a.rfind("--report-dir=", 0) == 0) {
      report_dir = a.substr(13);
    } else if (a == "--error-exitcode" && i + 1 < args.size()) {
      char* end = nullptr;
      error_exitcode = static_cast<int>(strtol(args[++i].c_str(), &end, 10));
      if (*end != '\0' || error_exitcode < 0 || error_exitcode > 255) {
        std::cerr << "loopsan run: --error-exitcode takes 0..255\n";
        return 2;
      }
    } else if (a == "-o" && i + 1 < args.size()) {
      settings.push_back(args[++i]);
    } else if (!a.empty() && a[0] == '-') {
      std::cerr << "loopsan run: unknown option " << a << "\n";
      return usage(std::cerr, 2);
    } else {
      break;  // the program, without "--"
    }
  }
  if (i >= args.size()) return usage(std::cerr, 2);
  std::vector<std::string> program(args.begin() + static_cast<long>(i), args.end());

  std::string shim = shim_path();
  struct stat st;
  if (stat(shim.c_str(), &st) != 0) {
    std::cerr << "loopsan run: cannot find the shim at " << shim << "\n";
    return 2;
  }

  // The report directory: --report-dir, else report_dir from -o or LOOPSAN_OPTIONS (parsed
  // the way the shim will parse it), else here. Passed down explicitly so that children that
  // change directory still write next to their parent.
  std::string options_text = getenv("LOOPSAN_OPTIONS") ? getenv("LOOPSAN_OPTIONS") : "";
  for (const std::string& s : settings) options_text += ":" + s;
  Options parsed;
  std::vector<std::string> warnings;
  parse_options(options_text, parsed, warnings);
  if (report_dir.empty()) report_dir = parsed.report_dir.empty() ? "." : parsed.report_dir;
  report_dir = absolute(report_dir);
  std::error_code ec;
  std::filesystem::create_directories(report_dir, ec);
  options_text += ":report_dir=" + option_value(report_dir);

  std::string preload = shim;
  if (const char* existing = getenv("LD_PRELOAD"); existing != nullptr && *existing) {
    preload += std::string(" ") + existing;
  }
  std::string session = session_token();
  setenv("LD_PRELOAD", preload.c_str(), 1);
  setenv("LOOPSAN_OPTIONS", options_text.c_str(), 1);
  setenv("LOOPSAN_SESSION", session.c_str(), 1);

  // Like system(): the terminal's SIGINT/SIGQUIT reach the program directly; we wait.
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  child_pid = fork();
  if (child_pid < 0) {
    std::cerr << "loopsan run: fork: " << strerror(errno) << "\n";
    return 2;
  }
  if (child_pid == 0) {
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    std::vector<char*> argv;
    for (auto& a : program) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    fprintf(stderr, "loopsan run: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  struct sigaction fwd {};
  fwd.sa_handler = forward_signal;
  sigaction(SIGTERM, &fwd, nullptr);
  sigaction(SIGHUP, &fwd, nullptr);
  int status = 0;
  while (waitpid(child_pid, &status, 0) < 0 && errno == EINTR) {
  }

  std::vector<Report> reports = session_reports(report_dir, session);
  print_summary(reports);
  size_t findings = distinct_findings(reports).size();
  if (error_exitcode != 0 && findings > 0) return error_exitcode;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    // Die the same way, without a second core dump.
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(WTERMSIG(status), SIG_DFL);
    raise(WTERMSIG(status));
    return 128 + WTERMSIG(status);
  }
  return 1;
}

}  // namespace loopsan::cli
