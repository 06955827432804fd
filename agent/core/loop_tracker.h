// Which threads are running an event loop right now (DESIGN.md, "Blocking-call policy").
//
// A thread runs a loop from its first epoll wait (auto_loops=1), a loopsan_loop_enter() or a
// loop_threads name match, until the loop's epoll descriptor is closed (asyncio.run() closes its
// selector), loopsan_loop_exit(), or forever for a name match.
#pragma once

#include <atomic>
#include <cstdint>

#include "agent/base/thread_state.h"

namespace loopsan::loop_tracker {

// Descriptors above this are loops that never end by close() (documented limitation).
constexpr int kMaxTrackedFd = 1 << 16;

// Per-descriptor generation: odd while the descriptor is the polling set of a running loop.
// A thread's loop is current while generation[loop_fd] still equals what it saw at the start.
extern std::atomic<uint16_t> fd_generation[kMaxTrackedFd];

inline uint32_t generation_of(int fd) {
  return (fd >= 0 && fd < kMaxTrackedFd) ? fd_generation[fd].load(std::memory_order_relaxed) : 1;
}

// Fast filter for blocking wrappers: false means "certainly not a loop thread".
inline bool maybe_loop_thread() {
  const ThreadState& t = tls_state;
  return (t.in_loop | t.explicit_loop_depth | t.named_loop | t.python_loop) != 0;
}

// The precise answer (also ends a loop whose descriptor another thread closed).
bool is_loop_thread();

// The calling thread waits on the epoll set `epfd`.
void loop_wait_slow(int epfd);
inline void loop_wait(int epfd) {
  const ThreadState& t = tls_state;
  if (t.in_loop && t.loop_fd == epfd && generation_of(epfd) == t.loop_generation) return;
  loop_wait_slow(epfd);
}

// close() family: cheap test first, so that every close() costs one load.
inline bool is_loop_fd(int fd) {
  return fd >= 0 && fd < kMaxTrackedFd &&
         (fd_generation[fd].load(std::memory_order_relaxed) & 1) != 0;
}
void loop_fd_closed(int fd);
// close_range()/closefrom(): [first, last] inclusive.
void loop_fds_closed(unsigned first, unsigned last);

// Explicit marking through the C API.
void enter();
void exit();

// asyncio tells when its loop starts and stops running on this thread. A stopped loop whose
// epoll set is still open (loop.run_until_complete() without loop.close()) is no loop.
void python_loop_running(bool running);

// The thread owning `state` is now called `name`: apply loop_threads globs.
void thread_named(ThreadState& state, const char* name);

// Parses loop_threads once the options are known.
void init();

}  // namespace loopsan::loop_tracker
