#include "tools/loopsan/canary_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

extern char** environ;

namespace loopsan::cli {
namespace {

volatile sig_atomic_t interrupted = 0;

void on_interrupt(int) {
  interrupted = 1;
}

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> p;
  for (std::string& s : strings) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

void redirect(int fd, const std::string& path) {
  int to = open(path.empty() ? "/dev/null" : path.c_str(),
                fd == STDIN_FILENO ? O_RDONLY : (O_WRONLY | O_CREAT | O_TRUNC), 0600);
  if (to >= 0 && to != fd) {
    dup2(to, fd);
    close(to);
  }
}

// In its own process group, so that a timeout kills what it started too. Everything the child
// needs is prepared before fork(): it only redirects and execs.
pid_t spawn(const ChildSpec& spec) {
  std::vector<std::string> argv = spec.argv;
  std::vector<std::string> env = spec.env;
  std::vector<char*> argp = pointers(argv);
  std::vector<char*> envp = pointers(env);
  pid_t pid = fork();
  if (pid != 0) return pid;
  setpgid(0, 0);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  redirect(STDIN_FILENO, "");
  redirect(STDOUT_FILENO, spec.stdout_path);
  redirect(STDERR_FILENO, spec.stderr_path);
  execve(argp[0], argp.data(), envp.data());
  dprintf(STDERR_FILENO, "loopsan selftest: cannot run %s: %s\n", argp[0], strerror(errno));
  _exit(127);
}

void record_status(int status, ChildResult& r) {
  if (WIFEXITED(status)) r.exit_status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
}

}  // namespace

bool run_children(const std::vector<ChildSpec>& specs, int jobs, double timeout_s,
                  std::vector<ChildResult>& results, const std::function<bool(size_t)>& enough,
                  const std::function<void(size_t)>& on_done) {
  struct sigaction stop {
  }, old_int{}, old_term{};
  stop.sa_handler = on_interrupt;
  sigaction(SIGINT, &stop, &old_int);
  sigaction(SIGTERM, &stop, &old_term);
  interrupted = 0;

  results.assign(specs.size(), ChildResult{});
  struct Running {
    size_t index;
    pid_t pid;
    double started;
    double asked = 0;  // when `enough` was last asked
  };
  std::vector<Running> running;
  size_t next = 0;
  while ((next < specs.size() || !running.empty()) && !interrupted) {
    while (next < specs.size() && static_cast<int>(running.size()) < jobs) {
      pid_t pid = spawn(specs[next]);
      if (pid < 0) {
        on_done(next++);  // not started
        continue;
      }
      setpgid(pid, pid);  // also here: the group must exist before a timeout kills it
      results[next].started = true;
      running.push_back({next++, pid, now_s()});
    }
    for (size_t i = 0; i < running.size();) {
      Running& r = running[i];
      ChildResult& result = results[r.index];
      int status = 0;
      pid_t done = waitpid(r.pid, &status, WNOHANG);
      double elapsed = now_s() - r.started;
      if (done == 0 && elapsed - r.asked >= 0.05) {
        r.asked = elapsed;
        result.stopped = enough(r.index);
      }
      if (done == 0 && (elapsed > timeout_s || result.stopped)) {
        kill(-r.pid, SIGKILL);
        result.timed_out = !result.stopped;
        while (waitpid(r.pid, &status, 0) < 0 && errno == EINTR) {
        }
        done = r.pid;
      }
      if (done == r.pid) {
        record_status(status, result);
        result.seconds = elapsed;
        kill(-r.pid, SIGKILL);  // anything it left behind in its group
        size_t index = r.index;
        running.erase(running.begin() + static_cast<long>(i));
        on_done(index);
      } else {
        ++i;
      }
    }
    if (!running.empty()) {
      timespec tick{0, 5000000};
      nanosleep(&tick, nullptr);
    }
  }
  for (const Running& r : running) {
    kill(-r.pid, SIGKILL);
    int status;
    while (waitpid(r.pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  return !interrupted;
}

bool capture_output(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                    double timeout_s, std::string& out) {
  std::string program = find_program(argv.at(0));
  if (program.empty()) return false;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  std::vector<std::string> args = argv;
  args[0] = program;
  std::vector<std::string> envs = env;
  std::vector<char*> argp = pointers(args);
  std::vector<char*> envp = pointers(envs);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  if (pid == 0) {
    setpgid(0, 0);
    dup2(fds[1], STDOUT_FILENO);
    redirect(STDIN_FILENO, "");
    redirect(STDERR_FILENO, "");
    execve(argp[0], argp.data(), envp.data());
    _exit(127);
  }
  close(fds[1]);
  out.clear();
  double deadline = now_s() + timeout_s;
  bool timed_out = false;
  for (;;) {
    double left = deadline - now_s();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(left * 1000) + 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[4096];
    ssize_t got = read(fds[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  close(fds[0]);
  if (timed_out) kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::vector<std::string> environment_without(const std::vector<std::string>& drop) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    std::string key = entry.substr(0, entry.find('='));
    bool dropped = false;
    for (const std::string& d : drop) dropped = dropped || key == d;
    if (!dropped) env.push_back(entry);
  }
  return env;
}

std::string find_program(const std::string& name) {
  if (name.empty()) return {};
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return {};
}

std::string signal_text(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

}  // namespace loopsan::cli
