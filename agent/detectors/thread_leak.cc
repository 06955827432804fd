#include "agent/detectors/thread_leak.h"

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>

#include "agent/base/json.h"
#include "agent/base/options.h"
#include "agent/base/lock.h"
#include "agent/base/sys.h"
#include "agent/base/text.h"
#include "agent/base/thread_state.h"
#include "agent/core/signal_handlers.h"
#include "agent/core/thread_registry.h"
#include "agent/core/watchdog.h"
#include "agent/report/finding.h"
#include "agent/report/reporter.h"
#include "agent/stacks/depot.h"
#include "agent/stacks/parked_stack.h"

namespace loopsan::thread_leak {
namespace {

// Code of the system's shared libraries (libc, GLib, libuv...), as opposed to the program's:
// its executable, its own libraries, and code in no object at all (JIT).
bool is_system_library_code(uintptr_t ip) {
  Dl_info info{};
  link_map* map = nullptr;
  // A return address points after its call: look up the call itself.
  void* at = reinterpret_cast<void*>(ip > 0 ? ip - 1 : ip);
  if (dladdr1(at, &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) == 0 || map == nullptr) {
    return false;
  }
  const char* path = map->l_name;
  if (path == nullptr || path[0] == '\0') return false;  // the executable
  if (path[0] != '/') return true;                       // the vDSO
  for (const char* dir : {"/lib/", "/lib32/", "/lib64/", "/usr/lib/", "/usr/lib32/", "/usr/lib64/",
                          "/usr/libexec/"}) {
    if (strncmp(path, dir, strlen(dir)) == 0) return true;
  }
  return false;
}

// A thread parked with nothing but system-library code on its stack runs a library's own
// machinery (GLib's worker thread polling its context, libuv's idle pool waiting for work): the
// library's business, not the program's.
bool runs_only_library_code(const parked::Stack& s) {
  if (s.size == 0) return false;
  for (int i = 0; i < s.size; ++i) {
    if (!is_system_library_code(s.ips[i])) return false;
  }
  return true;
}

enum class Now { kDescribed, kGone, kLibraryThread };

// Where thread `tid` stands now, into `t` ("state", "waiting_in", "waiting_for", "stack"), and
// as a few words for the message. kGone when it ended after all.
Now describe_now(pid_t tid, FindingThread& t, std::string* words, bool skip_library_threads) {
  // Read from outside: nothing signals a thread at exit (an interrupted wait could fail with
  // EINTR in a thread that is still doing its work).
  parked::Stack s;
  parked::sample(tid, &s);
  // A thread that only passes through "running" (woken, waiting for a CPU or, in Python, for
  // the GIL, which the thread reporting holds) is parked again a moment later: look a few
  // times, 2 ms apart, before calling it computing; 20 ms at most per exit, however many
  // threads compute.
  static std::atomic<int> looks_left{10};
  for (int i = 0; i < 5 && s.call.state == parked::Syscall::State::kRunning &&
                  looks_left.fetch_sub(1, std::memory_order_relaxed) > 0;
       ++i) {
    timespec pause{0, 2000000};
    sys::call_with(SYS_nanosleep, &pause, nullptr);
    parked::sample(tid, &s);
  }
  const parked::Syscall& call = s.call;
  if (call.state == parked::Syscall::State::kGone) return Now::kGone;
  if (skip_library_threads && runs_only_library_code(s)) return Now::kLibraryThread;
  bool parked = call.state == parked::Syscall::State::kParked;
  t.add_field("state", json_quote(parked ? "parked" : "running"));
  t.add_field("waiting_in", json_quote(parked::waiting_in(call)));
  parked::WaitTarget target = parked::wait_target(call);
  if (target.kind != parked::WaitTarget::Kind::kNone) {
    t.add_field("waiting_for", parked::waiting_for_json(target));
  }
  // A computing thread has no stack here: only a signal could take it (agent/stacks/sampler).
  if (s.size > 0) t.stacks.emplace_back("stack", depot::intern(s.ips, s.size));

  if (!parked) {
    *words = "running";
    return Now::kDescribed;
  }
  *words = cat("waiting in ", parked::waiting_in(call));
  switch (target.kind) {
    case parked::WaitTarget::Kind::kMutex:
      *words += target.owner == parked::kOwnerDied ? " for a mutex whose owner died"
                : target.owner != 0 ? cat(" for a mutex held by thread ", target.owner)
                                    : " for a mutex";
      break;
    case parked::WaitTarget::Kind::kJoin:
      *words += cat(" to join thread ", target.owner);
      break;
    case parked::WaitTarget::Kind::kFuture:
      *words += " for a std::future";
      break;
    case parked::WaitTarget::Kind::kDescriptor:
      *words += cat(" on ", parked::descriptor_words(static_cast<int>(target.object)));
      break;
    default:
      break;
  }
  return Now::kDescribed;
}

std::string count_of(size_t n, const char* one, const char* many) {
  return cat(n, " ", n == 1 ? one : many);
}

}  // namespace

void check_at_exit() {
  // A process stopped by a signal it handles (a server's SIGTERM) shuts down on request: it was
  // not going to end by itself, and leaving its workers to exit() is the usual shape of that.
  if (signal_handlers::stop_requested()) return;
  std::vector<registry::UnjoinedThread> threads = registry::running_unjoined();
  if (threads.empty()) return;
  std::sort(threads.begin(), threads.end(),
            [](const auto& a, const auto& b) { return a.tid < b.tid; });
  pid_t self = current_tid();
  // One finding per place of creation: the threads of one pool are one bug, and suppressing
  // a library's own background thread (by a frame of its creation) leaves the others.
  std::vector<std::pair<StackId, std::vector<const registry::UnjoinedThread*>>> groups;
  for (const auto& u : threads) {
    if (u.tid == self) continue;  // the thread that called exit() is not left behind
    auto it = groups.begin();
    while (it != groups.end() && it->first != u.created_stack) ++it;
    if (it == groups.end()) it = groups.insert(groups.end(), {u.created_stack, {}});
    it->second.push_back(&u);
  }
  for (const auto& [created, members] : groups) {
    Finding f;
    f.kind = Kind::kThreadLeak;
    f.thread = registry::current_thread_info();
    std::string first;
    for (const registry::UnjoinedThread* u : members) {
      FindingThread t;
      t.thread.tid = u->tid;
      std::string name = parked::task_name(u->tid);
      t.thread.name = name.empty() ? u->name : name;
      t.thread.role = u->role;
      std::string words;
      if (describe_now(u->tid, t, &words, true) != Now::kDescribed) continue;
      t.add_field("creator_tid", cat(u->creator_tid));
      if (first.empty()) first = cat("thread ", u->tid, " (", t.thread.name, ") is ", words);
      f.threads.push_back(std::move(t));
    }
    if (f.threads.empty()) continue;
    size_t n = f.threads.size();
    f.message = cat(count_of(n, "thread", "threads"), " started joinable ", n == 1 ? "was" : "were",
                    " still running at exit, never joined or detached: ", first,
                    n > 1 ? cat(" (and ", n - 1, " more)") : "");
    f.add_field("at", json_quote("exit"));
    f.stacks.emplace_back("created_stack", created);
    f.identity_stacks = {"created_stack"};
    reporter::submit(f);
  }
}

namespace {

struct ShutdownWait {
  int64_t began_ns = 0;
  ThreadInfo waiter;  // the thread running threading._shutdown
  std::vector<python::PyFrame> created;
  std::vector<PythonThread> threads;
};

Lock shutdown_lock;
// Leaked in a fork() child (the watchdog may have been reading it at the fork).
std::vector<ShutdownWait>* shutdown_waits = new std::vector<ShutdownWait>();

void report_python(const ShutdownWait& w, int64_t waited_ms, const python::ThreadStacks& stacks) {
  Finding f;
  f.kind = Kind::kThreadLeak;
  f.thread = w.waiter;
  std::string first;
  for (const PythonThread& p : w.threads) {
    FindingThread t;
    t.thread.tid = static_cast<pid_t>(p.native_id);
    t.thread.name = p.name;
    std::string words;
    // Every one of them holds the interpreter's exit, whatever code it runs.
    if (describe_now(t.thread.tid, t, &words, false) != Now::kDescribed) continue;
    t.add_field("daemon", "false");
    std::vector<python::PyFrame> stack;
    for (const auto& [ident, frames] : stacks) {
      if (ident == p.ident) stack = frames;
    }
    if (first.empty()) {
      std::string where = stack.empty() ? std::string()
                                        : cat(" in ", stack[0].function, " (", stack[0].file, ":",
                                              stack[0].line, ")");
      first = cat("'", p.name, "' (", p.native_id, ")", where);
    }
    t.python_stacks.emplace_back("python_stack", std::move(stack));
    f.threads.push_back(std::move(t));
  }
  if (f.threads.empty()) return;
  size_t n = f.threads.size();
  f.message =
      cat(count_of(n, "non-daemon Python thread", "non-daemon Python threads"), " ",
          n == 1 ? "was" : "were", " still running ", waited_ms,
          " ms after the interpreter began to shut down, which waits for ", n == 1 ? "it" : "them",
          " to end: ", first, n > 1 ? cat(" (and ", n - 1, " more)") : "");
  f.add_field("at", json_quote("python-shutdown"));
  f.add_field("waited_ms", cat(waited_ms));
  f.python_stacks.emplace_back("created_python_stack", w.created);
  f.identity_stacks = {"created_python_stack"};
  reporter::submit(f);
}

int64_t threshold_ns() {
  return int64_t{options().hang_threshold_ms} * 1000000;
}

}  // namespace

void python_shutdown_began(std::vector<python::PyFrame> created,
                           std::vector<PythonThread> threads) {
  if (threads.empty() || threshold_ns() <= 0) return;
  {
    LockGuard g(shutdown_lock);
    shutdown_waits->push_back({.began_ns = sys::monotonic_ns(),
                               .waiter = registry::current_thread_info(),
                               .created = std::move(created),
                               .threads = std::move(threads)});
  }
  watchdog::wake(watchdog::kThreadLeak);
}

int64_t period_ns() {
  // Within a twentieth of the threshold of it, and never busier than the waits check.
  return std::max<int64_t>(threshold_ns() / 20, 10000000);
}

bool tick(int64_t now) {
  std::vector<ShutdownWait> due;
  bool more = false;
  {
    LockGuard g(shutdown_lock);
    auto& all = *shutdown_waits;
    for (auto it = all.begin(); it != all.end();) {
      if (now - it->began_ns >= threshold_ns()) {
        due.push_back(std::move(*it));
        it = all.erase(it);
      } else {
        more = true;
        ++it;
      }
    }
  }
  if (!due.empty()) {
    python::ThreadStacks stacks = python::all_thread_stacks();
    for (const ShutdownWait& w : due) report_python(w, (now - w.began_ns) / 1000000, stacks);
  }
  return more;
}

void reset_after_fork() {
  shutdown_lock.reset_after_fork();
  shutdown_waits = new std::vector<ShutdownWait>();
}

}  // namespace loopsan::thread_leak
