#include "agent/core/loop_tracker.h"

#include <fnmatch.h>

#include <string>
#include <vector>

#include "agent/base/options.h"

namespace loopsan::loop_tracker {

std::atomic<uint16_t> fd_generation[kMaxTrackedFd];

namespace {

std::vector<std::string>* name_globs = nullptr;

void end_own_loop() {
  tls_state.in_loop = 0;
  tls_state.loop_fd = -1;
}

}  // namespace

void init() {
  auto* globs = new std::vector<std::string>();
  const std::string& spec = options().loop_threads;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t end = spec.find_first_of("|,", start);
    if (end == std::string::npos) end = spec.size();
    if (end > start) globs->push_back(spec.substr(start, end - start));
    start = end + 1;
  }
  name_globs = globs;
}

bool is_loop_thread() {
  ThreadState& t = tls_state;
  if (t.explicit_loop_depth > 0 || t.named_loop || t.python_loop) return true;
  if (!t.in_loop) return false;
  if (generation_of(t.loop_fd) == t.loop_generation) return true;
  end_own_loop();  // another thread closed our loop's descriptor
  return false;
}

void loop_wait_slow(int epfd) {
  if (!options().auto_loops || epfd < 0) return;
  ThreadState& t = tls_state;
  if (t.in_loop && generation_of(t.loop_fd) == t.loop_generation) {
    // A wait on a second epoll set while our loop is alive is a nested wait, not a new loop.
    return;
  }
  uint32_t gen = 1;
  if (epfd < kMaxTrackedFd) {
    uint16_t cur = fd_generation[epfd].load(std::memory_order_relaxed);
    // Another thread may be waiting on the same set (a shared epoll fd): keep its generation.
    while ((cur & 1) == 0 &&
           !fd_generation[epfd].compare_exchange_weak(cur, static_cast<uint16_t>(cur + 1))) {
    }
    gen = fd_generation[epfd].load(std::memory_order_relaxed);
  }
  t.loop_fd = epfd;
  t.loop_generation = gen;
  t.in_loop = 1;
}

void loop_fd_closed(int fd) {
  uint16_t cur = fd_generation[fd].load(std::memory_order_relaxed);
  while ((cur & 1) != 0 &&
         !fd_generation[fd].compare_exchange_weak(cur, static_cast<uint16_t>(cur + 1))) {
  }
  if (tls_state.in_loop && tls_state.loop_fd == fd) end_own_loop();
}

void loop_fds_closed(unsigned first, unsigned last) {
  if (first >= static_cast<unsigned>(kMaxTrackedFd)) return;
  if (last >= static_cast<unsigned>(kMaxTrackedFd)) last = kMaxTrackedFd - 1;
  for (unsigned fd = first; fd <= last; ++fd) {
    if (is_loop_fd(static_cast<int>(fd))) loop_fd_closed(static_cast<int>(fd));
  }
}

void enter() {
  ++tls_state.explicit_loop_depth;
}

void exit() {
  if (tls_state.explicit_loop_depth > 0) --tls_state.explicit_loop_depth;
}

void python_loop_running(bool running) {
  tls_state.python_loop = running ? 1 : 0;
  // Its epoll set stays open until the loop is closed: the next run starts the loop again at
  // its first wait.
  if (!running) end_own_loop();
}

void thread_named(ThreadState& state, const char* name) {
  if (name_globs == nullptr || name_globs->empty()) return;
  bool match = false;
  for (const std::string& glob : *name_globs) {
    if (fnmatch(glob.c_str(), name, 0) == 0) match = true;
  }
  state.named_loop = match ? 1 : 0;
}

}  // namespace loopsan::loop_tracker
