#include "tests/support/harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace loopsan::test {

std::string shim_path() {
  return LOOPSAN_TEST_SHIM;
}
std::string cli_path() {
  return LOOPSAN_TEST_CLI;
}
std::string victim(const std::string& name) {
  return std::string(LOOPSAN_TEST_VICTIMS) + "/" + name;
}
std::string python_victim(const std::string& name) {
  return std::string(LOOPSAN_TEST_PY_VICTIMS) + "/" + name;
}
std::string python() {
  return LOOPSAN_TEST_PYTHON;
}
std::string system_python() {
  return "/usr/bin/python3";
}
std::vector<std::string> pythons() {
  std::vector<std::string> all = {python()};
  std::error_code ec;
  if (std::filesystem::exists(system_python(), ec) &&
      std::filesystem::canonical(system_python(), ec) != std::filesystem::canonical(python(), ec)) {
    all.push_back(system_python());
  }
  return all;
}

namespace {
std::vector<std::string>& temp_dirs() {
  static std::vector<std::string> dirs;
  return dirs;
}
}  // namespace

std::string make_temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "loopsan-test-XXXXXX").string();
  char* dir = mkdtemp(tmpl.data());
  if (dir == nullptr) return {};
  temp_dirs().push_back(dir);
  return dir;
}

void remove_temp_dirs() {
  if (getenv("LOOPSAN_TEST_KEEP") != nullptr) return;
  std::error_code ec;
  for (const std::string& d : temp_dirs()) std::filesystem::remove_all(d, ec);
  temp_dirs().clear();
}

std::vector<ReportFile> read_reports(const std::string& dir) {
  std::vector<ReportFile> reports;
  std::error_code ec;
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("loopsan.", 0) == 0 && entry.path().extension() == ".jsonl") {
      paths.push_back(entry.path().string());
    }
  }
  std::sort(paths.begin(), paths.end());
  for (const std::string& p : paths) {
    ReportFile r;
    r.path = p;
    std::ifstream in(p);
    std::string line;
    while (std::getline(in, line)) {
      // Every line must be a complete JSON object: a parse error fails the test.
      nlohmann::json j = nlohmann::json::parse(line);
      std::string type = j.at("type");
      if (type == "start") {
        r.start = j;
      } else if (type == "finding") {
        r.findings.push_back(j);
      } else if (type == "summary") {
        r.summary = j;
      }
    }
    reports.push_back(std::move(r));
  }
  return reports;
}

RunResult run(const RunSpec& spec) {
  RunResult result;
  result.report_dir = make_temp_dir();
  std::string options = spec.options;
  if (options.find("report_dir=") == std::string::npos) {
    options += (options.empty() ? "" : ":") + std::string("report_dir=") + result.report_dir;
  }
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) return result;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    setenv("LOOPSAN_OPTIONS", options.c_str(), 1);
    if (spec.preload) {
      setenv("LD_PRELOAD", shim_path().c_str(), 1);
    } else {
      unsetenv("LD_PRELOAD");
    }
    for (const auto& [k, v] : spec.env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(spec.timeout_s);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  bool killed = false;
  while (open_fds > 0) {
    if (!killed && !spec.kill_when_stderr_has.empty() &&
        result.err.find(spec.kill_when_stderr_has) != std::string::npos) {
      kill(pid, SIGKILL);
      killed = true;
    }
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (left <= 0) {
      kill(pid, SIGKILL);
      result.err += "\n[harness: killed after timeout]\n";
      break;
    }
    if (poll(fds, 2, left) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  result.reports = read_reports(result.report_dir);
  return result;
}

std::vector<nlohmann::json> RunResult::findings(const std::string& kind) const {
  std::vector<nlohmann::json> all;
  for (const auto& r : reports) {
    for (const auto& f : r.findings) {
      if (kind.empty() || f.at("kind") == kind) all.push_back(f);
    }
  }
  return all;
}

const ReportFile* RunResult::report_of(long pid) const {
  for (const auto& r : reports) {
    if (r.start.is_object() && r.start.at("pid") == pid) return &r;
  }
  return nullptr;
}

std::string RunResult::describe() const {
  std::ostringstream s;
  s << "exit_code=" << exit_code << " term_signal=" << term_signal << "\n--- stdout ---\n"
    << out << "\n--- stderr ---\n"
    << err << "\n--- reports in " << report_dir << " ---\n";
  for (const auto& r : reports) {
    s << r.path << ": " << r.findings.size() << " findings\n";
    for (const auto& f : r.findings) s << "  " << f.dump().substr(0, 600) << "\n";
    s << "  summary: " << r.summary.dump() << "\n";
  }
  return s.str();
}

int line_of(const std::string& file, const std::string& marker) {
  std::ifstream in(file);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find(marker) != std::string::npos) return n;
  }
  return -1;
}

}  // namespace loopsan::test
