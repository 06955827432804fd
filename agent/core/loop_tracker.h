// Which threads are running an event loop right now, and whether a wait is that loop's own
// (DESIGN.md, "Blocking-call policy").
//
// A thread runs a loop from
// - its first epoll wait (auto_loops=1), until that epoll descriptor is closed;
// - a poll()/select() over two descriptors or more (auto_loops=1), while the function that
//   called it or that function's caller has not returned (a one-descriptor poll is a socket
//   timeout, never a loop); its blocking calls count once it waits again;
//   the epoll loop ends earlier too if both the function that waits and its caller returned
//   (asio's io_context::run(), Node's uv_run: code after them is not a loop);
// - entering a known loop function of a library (uv_run, event_base_loop, g_main_loop_run,
//   ...), until it returns; the waits it makes are the loop's own;
// - asyncio's run_forever()/run_until_complete() (the CPython bridge), until they return;
// - loopsan_loop_enter() until loopsan_loop_exit(), or a loop_threads name match, forever.
// A wait on another polling set while the loop runs is a nested wait: a blocking call when it
// has a timeout.
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
  return tls_state.loop_flags != 0;
}

// The precise answer (also ends a loop whose descriptor another thread closed, or whose poll
// loop function returned).
bool is_loop_thread();

// Asked from another thread (the watchdog) about the thread that owns `t`, which is alive:
// whether it still runs a loop, judging its recorded loop frames against its stack pointer
// `sp` (0: unknown, frames not judged). Reads `t` while its thread may change it: the answer
// may be one change late, never a crash (frames are read only inside the thread's own stack).
bool runs_loop_at(const ThreadState& t, uintptr_t sp);

// What a wait on a polling set is to the calling thread.
enum class Wait {
  kNone,    // not a loop thread, and this wait does not make one
  kOwn,     // the loop's own wait
  kNested,  // a loop thread waiting on something else: a blocking call when it has a timeout
};

// The calling thread waits on the epoll set `epfd`. `may_start`: an automatic loop may start
// here (false on a thread that runs an interpreter whose runtime bridge says when its loop
// runs: CPython's poll in subprocess.communicate() is no event loop).
Wait epoll_wait_slow(int epfd, bool may_start = true);
// The frames that run the thread's poll loop are still running.
bool poll_loop_live();
// The thread runs a poll loop found by its shape alone (two descriptors or more, outside any
// known loop function): a blocking call in it is reported only once the loop waits again,
// which proves the call was inside the loop and not in code after it in the same function
// (g_spawn_sync polls its pipes, then waits for the child).
bool unconfirmed_poll_loop();
// Which poll loop runs now (0: none): a finding held for confirmation belongs to it.
uintptr_t poll_loop_identity();

// The calling thread waits in poll()/select() at return address `site` on `count` descriptors.
// (events.h has the inline fast paths of both.)
Wait poll_wait_slow(uintptr_t site, int count, bool may_start = true);

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

// A known loop function of a library starts / returns on this thread. When the outermost one
// returns, the thread's automatic loop state ends with it (its epoll set may stay open).
void library_loop_entered();
void library_loop_returned();

// asyncio tells when its loop starts and stops running on this thread. A stopped loop whose
// epoll set is still open (loop.run_until_complete() without loop.close()) is no loop.
void python_loop_running(bool running);

// The thread owning `state` is now called `name`: apply loop_threads globs.
void thread_named(ThreadState& state, const char* name);

// Parses loop_threads once the options are known.
void init();
// In a fork() child, on the thread that forked: a child does not go on running its parent's
// epoll or poll loop (it shares the parent's epoll set, if anything); its next wait starts its
// own. Explicit, named, library and asyncio loops stay as they were.
void reset_after_fork();

}  // namespace loopsan::loop_tracker
