#include "agent/core/loop_tracker.h"

#include <fnmatch.h>
#include <pthread.h>

#include <string>
#include <vector>

#include "agent/base/options.h"
#include "agent/stacks/stack.h"

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

namespace {

// Whether one of the recorded frames is still running: its return address is still in place
// and the caller is below it. A frame that returned has its slot overwritten by the next call
// made from the level above, whatever it is.
bool frames_live(const uintptr_t* cfa, const uintptr_t* ra, int n) {
  auto here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  const ThreadState& t = tls_state;
  // On another stack (a coroutine's): the thread's frames cannot be judged from here.
  if (here < t.stack_lo || here >= t.stack_hi) return true;
  for (int i = 0; i < n; ++i) {
    if (here < cfa[i] && *reinterpret_cast<const uintptr_t*>(cfa[i] - sizeof(uintptr_t)) == ra[i]) {
      return true;
    }
  }
  return false;
}

void end_poll_loop(ThreadState& t) {
  t.poll_loop = 0;
  t.poll_confirmed = 0;
  t.poll_site = 0;
  t.poll_frames = 0;
}

// An epoll loop started by a runtime that says when its loop ends (a known library function,
// asyncio) lasts until then; any other lasts while the function that waits, or its caller, is
// still running (libuv inside Node waits in uv__io_poll and runs timers from uv_run; asio waits
// in the reactor and runs handlers from the scheduler), and at most until its set is closed.
bool epoll_loop_current(ThreadState& t) {
  if (!t.in_loop) return false;
  if (generation_of(t.loop_fd) == t.loop_generation &&
      (t.loop_frames == 0 || t.library_loop_depth > 0 || t.python_loop ||
       frames_live(t.loop_frame_cfa, t.loop_frame_ra, t.loop_frames))) {
    return true;
  }
  end_own_loop();  // its descriptor was closed, or the function that ran it returned
  return false;
}

// A poll loop started by a library's loop function or asyncio ends with them
// (library_loop_returned, python_loop_running); any other when the function that polls and its
// caller returned (Redis's ae_select.c and libevent's poll backend poll in a helper). Code
// after a loop function in its caller is told apart by confirmation (unconfirmed_poll_loop).
bool poll_loop_current(ThreadState& t) {
  if (!t.poll_loop) return false;
  if (t.poll_frames == 0 || frames_live(t.poll_frame_cfa, t.poll_frame_ra, t.poll_frames)) {
    return true;
  }
  end_poll_loop(t);
  return false;
}

// The frames above a loop's first wait, if they are on the thread's own stack (recorded frames
// are read later, and only a stack that lives as long as the thread is safe to read).
int record_frames(ThreadState& t, uintptr_t* cfa, uintptr_t* ra, int max) {
  if (t.stack_hi == 0) {
    pthread_attr_t attr;
    void* base = nullptr;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      if (pthread_attr_getstack(&attr, &base, &size) != 0) size = 0;
      pthread_attr_destroy(&attr);
    }
    t.stack_lo = reinterpret_cast<uintptr_t>(base);
    t.stack_hi = size != 0 ? t.stack_lo + size : 1;  // 1: unknown, never read
  }
  auto here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  if (here < t.stack_lo || here >= t.stack_hi) return 0;
  int n = caller_frames(cfa, ra, max);
  for (int i = 0; i < n; ++i) {
    if (cfa[i] <= t.stack_lo || cfa[i] > t.stack_hi) return 0;
  }
  return n;
}

void start_epoll_loop(ThreadState& t, int epfd) {
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
  t.loop_frames = 0;
  if (t.library_loop_depth == 0 && !t.python_loop) {
    t.loop_frames = record_frames(t, t.loop_frame_cfa, t.loop_frame_ra, 2);
  }
  t.in_loop = 1;
}

// `framed`: the loop lives as long as the function that polls. Otherwise (a known loop
// function, asyncio) the end of the runtime's loop ends it.
void start_poll_loop(ThreadState& t, uintptr_t site, bool framed) {
  t.poll_loop = 1;
  t.poll_confirmed = framed ? 0 : 1;
  t.poll_site = site;
  t.poll_frames = framed ? record_frames(t, t.poll_frame_cfa, t.poll_frame_ra, 2) : 0;
}

}  // namespace

namespace {

template <typename T>
T peek(const T& field) {
  return __atomic_load_n(&field, __ATOMIC_RELAXED);
}

// frames_live() for another thread whose stack pointer is `sp`.
bool frames_live_at(const ThreadState& t, uintptr_t sp, const uintptr_t* cfa, const uintptr_t* ra,
                    int n) {
  uintptr_t lo = peek(t.stack_lo), hi = peek(t.stack_hi);
  if (sp == 0 || sp < lo || sp >= hi) return true;
  for (int i = 0; i < n && i < 2; ++i) {
    uintptr_t at = peek(cfa[i]);
    if (at <= lo || at > hi) return true;
    if (sp < at &&
        peek(*reinterpret_cast<const uintptr_t*>(at - sizeof(uintptr_t))) == peek(ra[i])) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool runs_loop_at(const ThreadState& t, uintptr_t sp) {
  if (peek(t.explicit_loop_depth) > 0 || peek(t.named_loop) || peek(t.python_loop) ||
      peek(t.library_loop_depth) > 0) {
    return true;
  }
  if (peek(t.in_loop) && generation_of(peek(t.loop_fd)) == peek(t.loop_generation)) {
    int frames = peek(t.loop_frames);
    if (frames == 0 || frames_live_at(t, sp, t.loop_frame_cfa, t.loop_frame_ra, frames))
      return true;
  }
  if (peek(t.poll_loop) && peek(t.poll_confirmed)) {
    int frames = peek(t.poll_frames);
    if (frames == 0 || frames_live_at(t, sp, t.poll_frame_cfa, t.poll_frame_ra, frames))
      return true;
  }
  return false;
}

bool is_loop_thread() {
  ThreadState& t = tls_state;
  bool automatic = epoll_loop_current(t) | poll_loop_current(t);
  return automatic || t.explicit_loop_depth > 0 || t.named_loop || t.python_loop ||
         t.library_loop_depth > 0;
}

bool poll_loop_live() {
  ThreadState& t = tls_state;
  return t.poll_frames == 0 || frames_live(t.poll_frame_cfa, t.poll_frame_ra, t.poll_frames);
}

uintptr_t poll_loop_identity() {
  const ThreadState& t = tls_state;
  return t.poll_loop ? t.poll_site ^ (t.poll_frames > 0 ? t.poll_frame_cfa[0] << 1 : 0) : 0;
}

bool unconfirmed_poll_loop() {
  const ThreadState& t = tls_state;
  return t.poll_loop && t.poll_frames > 0 && !t.in_loop && t.library_loop_depth == 0 &&
         !t.python_loop && t.explicit_loop_depth == 0 && !t.named_loop;
}

Wait epoll_wait_slow(int epfd, bool may_start) {
  ThreadState& t = tls_state;
  if (epoll_loop_current(t)) {
    if (t.loop_fd != epfd) return Wait::kNested;
    // Our own set, waited on from a new call chain: the loop runs from there now.
    t.loop_frames = 0;
    if (t.library_loop_depth == 0 && !t.python_loop) {
      t.loop_frames = record_frames(t, t.loop_frame_cfa, t.loop_frame_ra, 2);
    }
    return Wait::kOwn;
  }
  if (poll_loop_current(t)) {
    if (t.poll_confirmed) return Wait::kNested;
    end_poll_loop(t);  // one poll over two descriptors, then another kind of wait: no loop
  }
  if (epfd < 0) return Wait::kNone;
  // No automatic loop yet: this wait starts one, on a loop thread of any kind (the library
  // loop's or asyncio's first wait is its own) or, with auto_loops, on any thread.
  bool loop_thread =
      t.explicit_loop_depth > 0 || t.named_loop || t.python_loop || t.library_loop_depth > 0;
  if (!loop_thread && (!options().auto_loops || !may_start)) return Wait::kNone;
  start_epoll_loop(t, epfd);
  return Wait::kOwn;
}

Wait poll_wait_slow(uintptr_t site, int count, bool may_start) {
  ThreadState& t = tls_state;
  if (epoll_loop_current(t)) return Wait::kNested;
  if (poll_loop_current(t)) {
    if (t.poll_site == site) {
      t.poll_confirmed = 1;
      return Wait::kOwn;
    }
    // Not confirmed yet: a wait that may be a loop of its own (several descriptors, or a
    // known loop function's) means the earlier poll was a one-off; a one-descriptor wait is
    // nested in it (and its finding waits for the confirmation).
    bool own_loop_candidate = count >= 2 || t.library_loop_depth > 0 || t.python_loop;
    if (t.poll_confirmed || !own_loop_candidate) return Wait::kNested;
    end_poll_loop(t);
  }
  // The first wait of a known loop function or of asyncio is the loop's (GLib may poll only
  // its wakeup descriptor).
  if (t.library_loop_depth > 0 || t.python_loop) {
    start_poll_loop(t, site, false);
    return Wait::kOwn;
  }
  // Elsewhere a loop waits on several descriptors; one descriptor is a socket timeout.
  bool loop_thread = t.explicit_loop_depth > 0 || t.named_loop;
  if (count >= 2 && (loop_thread || (options().auto_loops && may_start))) {
    start_poll_loop(t, site, true);
    return Wait::kOwn;
  }
  return loop_thread ? Wait::kNested : Wait::kNone;
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

void reset_after_fork() {
  end_own_loop();
  end_poll_loop(tls_state);
}

void enter() {
  if (tls_state.explicit_loop_depth < 255) ++tls_state.explicit_loop_depth;
}

void exit() {
  if (tls_state.explicit_loop_depth > 0) --tls_state.explicit_loop_depth;
}

void library_loop_entered() {
  if (tls_state.library_loop_depth < 255) ++tls_state.library_loop_depth;
}

void library_loop_returned() {
  ThreadState& t = tls_state;
  if (t.library_loop_depth > 0 && --t.library_loop_depth == 0) {
    end_own_loop();
    end_poll_loop(t);
  }
}

void python_loop_running(bool running) {
  tls_state.python_loop = running ? 1 : 0;
  // Its epoll set stays open until the loop is closed: the next run starts the loop again at
  // its first wait.
  if (!running) {
    end_own_loop();
    end_poll_loop(tls_state);
  }
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
