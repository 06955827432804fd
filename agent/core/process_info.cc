#include "agent/core/process_info.h"

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <utility>

#include "agent/base/json.h"
#include "agent/base/lock.h"
#include "agent/base/options.h"
#include "agent/base/sys.h"

namespace loopsan::process_info {
namespace {

struct State {
  pid_t pid = 0;
  pid_t ppid = 0;
  std::string exe;
  std::string exe_basename;
  std::vector<std::string> argv;
  std::string session;  // LOOPSAN_SESSION at start, set by `loopsan run`
  int64_t start_wall_ms = 0;
  int64_t start_mono_ns = 0;
  std::vector<std::pair<std::string, bool>> hooks;
  std::vector<std::string> deepbind;  // guarded by hooks_lock
};

// Leaked: read until the very end of the process. Created before any thread (init).
State* state_ptr = nullptr;
State& state() {
  if (state_ptr == nullptr) state_ptr = new State();
  return *state_ptr;
}

Lock hooks_lock;

// deepbind_json(): written under hooks_lock, the length published after the bytes.
char deepbind_text[2048];
std::atomic<size_t> deepbind_len{0};

std::string iso8601(int64_t wall_ms) {
  time_t secs = static_cast<time_t>(wall_ms / 1000);
  tm t{};
  gmtime_r(&secs, &t);
  char buf[40];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(wall_ms % 1000));
  return buf;
}

void stamp_start() {
  State& s = state();
  s.pid = sys::getpid();
  s.ppid = getppid();
  s.start_wall_ms = sys::wall_ms();
  s.start_mono_ns = sys::monotonic_ns();
}

}  // namespace

void init(int argc, char** argv) {
  State& s = state();
  stamp_start();
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  s.exe = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("unknown");
  size_t slash = s.exe.rfind('/');
  s.exe_basename = slash == std::string::npos ? s.exe : s.exe.substr(slash + 1);
  if (s.exe_basename.empty()) s.exe_basename = "unknown";
  for (int i = 0; argv != nullptr && i < argc && argv[i] != nullptr; ++i)
    s.argv.emplace_back(argv[i]);
  if (const char* session = getenv("LOOPSAN_SESSION")) s.session = session;
}

void reset_after_fork() {
  if (hooks_lock.reset_after_fork()) {
    // The hooks and deepbind lists may have been mid-change: start them afresh (leaking the
    // old ones); what init() wrote is whole.
    State* fresh = new State();
    fresh->exe = state_ptr->exe;
    fresh->exe_basename = state_ptr->exe_basename;
    fresh->argv = state_ptr->argv;
    fresh->session = state_ptr->session;
    state_ptr = fresh;
  }
  stamp_start();
}

pid_t pid() {
  return state().pid;
}
const std::string& exe_basename() {
  return state().exe_basename;
}
int64_t start_mono_ns() {
  return state().start_mono_ns;
}

int64_t elapsed_ms() {
  return (sys::monotonic_ns() - state().start_mono_ns) / 1000000;
}

void set_hook(const char* name, bool installed) {
  LockGuard g(hooks_lock);
  for (auto& h : state().hooks) {
    if (h.first == name) {
      h.second = installed;
      return;
    }
  }
  state().hooks.emplace_back(name, installed);
}

bool note_deepbind(const std::string& path) {
  LockGuard g(hooks_lock);
  for (const std::string& p : state().deepbind) {
    if (p == path) return false;
  }
  state().deepbind.push_back(path);
  std::string entry = json_quote(path);
  size_t len = deepbind_len.load(std::memory_order_relaxed);
  size_t need = entry.size() + (len > 0 ? 1 : 0);
  if (len + need <= sizeof deepbind_text) {
    if (len > 0) deepbind_text[len] = ',';
    memcpy(deepbind_text + len + (len > 0 ? 1 : 0), entry.data(), entry.size());
    deepbind_len.store(len + need, std::memory_order_release);
  }
  return true;
}

const char* deepbind_json(size_t* len) {
  *len = deepbind_len.load(std::memory_order_acquire);
  return deepbind_text;
}

std::string start_line_json() {
  const State& s = state();
  JsonWriter w;
  w.begin_object()
      .field("type", "start")
      .field("schema", 1)
      .field("version", LOOPSAN_VERSION)
      .field("pid", static_cast<int64_t>(s.pid))
      .field("ppid", static_cast<int64_t>(s.ppid))
      .field("exe", s.exe);
  w.key("argv").begin_array();
  for (const std::string& a : s.argv) w.value(a);
  w.end_array();
  w.field("start_time", iso8601(s.start_wall_ms));
  // Lets `loopsan run` find the reports of its own process tree among others in the directory.
  if (!s.session.empty()) w.field("session", s.session);
  w.key("options").raw(options_json(options()));
  {
    LockGuard g(hooks_lock);
    w.key("hooks").begin_object();
    for (const auto& h : s.hooks) w.field(h.first, h.second);
    w.end_object();
    // Libraries whose calls loopsan cannot see (events::library_opening).
    if (!s.deepbind.empty()) {
      w.key("deepbind").begin_array();
      for (const std::string& p : s.deepbind) w.value(p);
      w.end_array();
    }
  }
  w.end_object();
  return w.take();
}

}  // namespace loopsan::process_info
