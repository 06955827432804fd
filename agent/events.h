// The event API: what the shim (and any other front-end or runtime bridge) tells the agent, and
// the few questions it asks back. It is the only agent header the shim includes; the agent's
// modules never see an interceptor. (heaptrack's preload and inject front-ends talk to its core
// the same way, through libheaptrack.h.)
//
// Conventions:
// - Inline functions are fast paths run on every call of a hot wrapper: a TLS read or a load,
//   then out of line only when the agent has something to do.
// - Out-of-line events return with errno as it was and with the re-entrancy guard as it was;
//   the wrappers need not save anything themselves.
// - Events arrive on the thread they describe, unless their parameters name another one.
#pragma once

#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>

#include <atomic>
#include <cstdint>

#include "agent/base/errno_saver.h"
#include "agent/base/sys.h"  // raw system calls, for a wrapper whose real function is missing
#include "agent/base/thread_state.h"
#include "agent/core/fd_status.h"
#include "agent/core/loop_tracker.h"
#include "agent/core/signal_handlers.h"
#include "agent/interception/interception.h"
#include "agent/stacks/depot.h"
#include "agent/stacks/unwinder_pipe.h"

struct addrinfo;

namespace loopsan::events {

// --- Whether to tell the agent anything ------------------------------------------------------

// False before start-up and when inert (set-user-ID programs: getauxval(AT_SECURE)).
extern int g_active;
inline bool active() {
  return g_active != 0;
}
// The agent may work on this thread now: a wrapper called from the agent's own work passes
// straight through.
inline bool enabled() {
  return active() && tls_state.guard == 0;
}
// This is the process the agent started in (or a fork() child it was told about); false in a
// vfork()/posix_spawn child, which shares our memory and must not change it.
bool same_process();

// --- The process ------------------------------------------------------------------------------

// From the shim's constructor. `own_code` is any address inside the shim (its frames are left
// out of stacks).
void process_started(int argc, char** argv, const void* own_code);
// Around the real fork(): the child's agent starts afresh (core/module.h, after_fork_child).
// `pid` is fork's result; nothing is done for a failed fork beyond reopening.
void fork_starting();
void fork_ended(pid_t pid);
// exit() or a return from main (an on_exit handler registered before everyone else's, so it
// runs last).
void process_exiting(int status);
// _exit()/_Exit(): no exit handlers will run. Returns the status to exit with (exitcode=N).
int process_exiting_now(int status);
// The shim's destructor, while the libraries that exit-time checks need are still loaded.
void process_exit_checks();
// The exec family: the image is about to be replaced; exec_failed() if it lives on.
void exec_starting();
void exec_failed();

// --- Threads ------------------------------------------------------------------------------------

// A thread's creation, in three events (core/thread_registry.h says why). thread_creating, on
// the creating thread before the real pthread_create(), starts the new thread's record (null
// when the agent is not enabled): with the stack of the pthread_create() call when the thread
// starts joinable (one created detached can never be left unjoined: a thread-leak).
// thread_created, on the creating thread after it, with its result. thread_started, on the new
// thread before the host's start routine runs.
struct ThreadCreation {
  void* record = nullptr;  // opaque to the shim
};
ThreadCreation thread_creating(const pthread_attr_t* attr);
void thread_created(const ThreadCreation& creation, int rc, pthread_t thread);
void thread_started(pid_t creator_tid, const ThreadCreation& creation);
// The calling thread ends: return, pthread_exit() or cancellation.
void thread_exiting();
// A successful pthread_join/pthread_detach/pthread_setname_np (or PR_SET_NAME) on `thread`.
void thread_joined(pthread_t thread);
void thread_detached(pthread_t thread);
void thread_named(pthread_t thread, const char* name);

// --- Event loops -------------------------------------------------------------------------------

// The return from a loop's own wait is where a stalled loop is measured from. The wrappers
// count returns in the thread's state (ThreadState::loop_wait_returns), which the watchdog
// reads from its own thread; they call out only for a thread the stall detector has not
// decided about yet, while findings wait for a confirmation, or when the watchdog asked to
// hear of the next return (it went idle: every loop was in its wait).
void loop_wait_ended(int epfd);
extern std::atomic<bool> g_loop_wait_end_wanted;

// A wrapped call that may block is about to block on a loop thread (or has returned): the
// watchdog sees it in the thread's state, and a stack sample being decided for this thread
// settles first, so that its signal never interrupts the call (stacks/sampler.h).
void settle_sample();
inline void wait_entering() {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (__atomic_load_n(&tls_state.sample_state, __ATOMIC_RELAXED) != 0) settle_sample();
}
inline void call_entering(const char* call, const void* caller) {
  ThreadState& t = tls_state;
  if (t.in_call == 0) {
    t.call_name = call;
    t.call_caller = caller;
  }
  __atomic_store_n(&t.in_call, static_cast<uint8_t>(t.in_call + 1), __ATOMIC_RELAXED);
  wait_entering();
}
inline void call_left() {
  ThreadState& t = tls_state;
  __atomic_store_n(&t.in_call, static_cast<uint8_t>(t.in_call - 1), __ATOMIC_RELAXED);
}
// False means certainly not a loop thread right now (one TLS read): what a wrapper may test
// before it does extra work to describe a call.
inline bool maybe_loop_thread() {
  return loop_tracker::maybe_loop_thread();
}
// Explicit marking (C API).
void loop_enter(const char* name);
void loop_exit();
// A runtime bridge knows exactly when its loop runs (asyncio: run_forever/run_until_complete):
// a loop whose polling set stays open between runs is no loop in between.
void runtime_loop_running(bool running);
// A known loop function of a library (uv_run, event_base_loop, g_main_loop_run, ...) starts
// and returns on this thread.
inline void library_loop_entered() {
  if (active()) loop_tracker::library_loop_entered();
}
inline void library_loop_returned() {
  if (active()) loop_tracker::library_loop_returned();
}

// --- Blocking calls -----------------------------------------------------------------------------

// DESIGN.md's three classes: reported whatever the duration, reported when the call waited at
// least block_threshold_ms, never reported (non-blocking descriptors, WNOHANG, a numeric host).
enum class BlockRule { kNever, kAlways, kThreshold };

struct BlockingCall {
  const char* call;  // the function's name as the user knows it
  BlockRule rule;
  // What the caller asked for: a zero-duration sleep is a yield and never reported; -1 when
  // not applicable or not known.
  int64_t requested_ns = -1;
  // The wrapper's return address: the code that made the call.
  const void* caller = nullptr;
};

// What the blocking detector keeps while a watched call runs; lives in the wrapper's frame.
struct BlockingState {
  BlockingCall call{};
  int64_t start_ns = 0;
  void* captured = nullptr;  // stacks taken before an "always" call
  uint64_t site = 0;         // the call site's key (detectors/blocking.cc)
};
// Returns false when the call is not watched.
bool blocking_begin(const BlockingCall& call, BlockingState& state);
void blocking_end(BlockingState& state);

// Opened around the real call of a potentially blocking function. Off a loop thread it costs
// one TLS test. A threshold call is timed right here (two clock reads), and the agent hears of
// it only if it waited block_threshold_ms: a loop that reads files or takes locks pays no more.
void blocking_threshold_exceeded(BlockingState& state);
extern std::atomic<int64_t> g_block_threshold_ns;
class BlockingScope {
 public:
  explicit BlockingScope(const BlockingCall& call) {
    const ThreadState& t = tls_state;
    if (call.rule == BlockRule::kNever || !loop_tracker::maybe_loop_thread() || t.guard != 0 ||
        signal_handlers::in_handler()) {
      return;
    }
    call_entering(call.call, call.caller);
    entered_ = true;
    if (t.allow_blocking_depth != 0) return;
    if (call.rule == BlockRule::kThreshold) {
      state_.call = call;
      state_.start_ns = sys::monotonic_ns();
      timed_ = true;
      return;
    }
    watched_ = blocking_begin(call, state_);
  }
  ~BlockingScope() {
    if (entered_) call_left();
    if (timed_) {
      if (sys::monotonic_ns() - state_.start_ns >=
          g_block_threshold_ns.load(std::memory_order_relaxed)) {
        blocking_threshold_exceeded(state_);
      }
    } else if (watched_) {
      blocking_end(state_);
    }
  }
  BlockingScope(const BlockingScope&) = delete;
  BlockingScope& operator=(const BlockingScope&) = delete;

 private:
  BlockingState state_;
  bool entered_ = false;
  bool watched_ = false;
  bool timed_ = false;
};

// --- The GIL (CPython) --------------------------------------------------------------------------

// The GIL's condition variables (runtimes/gil_waits.h): `first` is ceval.gil.cond, and
// switch_cond lies `span` bytes above it; `first` is 0 until a CPython whose layout is known is
// seen, and then never changes. A condition wait on either is a wait for the GIL: the
// condition wrappers test it on their fast path (one load, a subtraction and a compare) and
// time those waits only.
struct GilConds {
  uintptr_t first;
  uintptr_t span;
};
extern GilConds g_gil_conds;
inline bool is_gil_cond(const void* cond) {
  // Unarmed (0, 0), it matches only a null condition, which no caller passes.
  return reinterpret_cast<uintptr_t>(cond) - g_gil_conds.first <= g_gil_conds.span;
}
// The calling thread waited for the GIL from `start_ns` (sys::monotonic_ns) until now.
void gil_waited(int64_t start_ns);
// Opened around the real call of a condition wait on the GIL.
class GilWait {
 public:
  GilWait() : start_ns_(sys::monotonic_ns()) {}
  ~GilWait() { gil_waited(start_ns_); }
  GilWait(const GilWait&) = delete;
  GilWait& operator=(const GilWait&) = delete;

 private:
  int64_t start_ns_;
};

// The rule for an I/O call on `fd` (asked on loop threads only): never on a non-blocking
// descriptor, always on a blocking socket, by duration on anything else (files, pipes, ttys).
BlockRule fd_rule_slow(int fd);
inline BlockRule fd_rule(int fd) {
  switch (fd_status::cached(fd)) {
    case fd_status::Blocking::kNonBlocking:
      return BlockRule::kNever;
    case fd_status::Blocking::kBlockingSocket:
      return BlockRule::kAlways;
    case fd_status::Blocking::kBlockingOther:
      return BlockRule::kThreshold;
    default:
      return fd_rule_slow(fd);
  }
}
// send/recv family: MSG_DONTWAIT makes any socket call non-blocking.
inline BlockRule socket_rule(int fd, int msg_flags) {
  return (msg_flags & MSG_DONTWAIT) != 0 ? BlockRule::kNever : fd_rule(fd);
}
// sendfile/splice/copy_file_range: the stricter of the two ends.
inline BlockRule fd_pair_rule(int in_fd, int out_fd) {
  BlockRule a = fd_rule(in_fd), b = fd_rule(out_fd);
  if (a == BlockRule::kAlways || b == BlockRule::kAlways) return BlockRule::kAlways;
  if (a == BlockRule::kNever && b == BlockRule::kNever) return BlockRule::kNever;
  return BlockRule::kThreshold;
}
// Name lookups of a numeric host (or with AI_NUMERICHOST / NI_NUMERICHOST|NI_NUMERICSERV)
// never leave the process.
BlockRule host_rule(const char* node, const ::addrinfo* hints = nullptr);
BlockRule address_rule(int ni_flags);
// Process waits return at once with WNOHANG, or when a child they would take has already
// ended (asyncio's PidfdChildWatcher waitpid()s a child its pidfd said is gone): asked of the
// kernel with WNOHANG|WNOWAIT, which reaps nothing. Otherwise they wait: always reported.
BlockRule child_wait_rule(int idtype, long id, int options);
inline BlockRule waitpid_rule(pid_t pid, int options) {
  if ((options & WNOHANG) != 0) return BlockRule::kNever;
  int wait_options = WEXITED | ((options & WUNTRACED) ? WSTOPPED : 0) |
                     (options & (WCONTINUED | __WALL | __WCLONE | __WNOTHREAD));
  if (pid > 0) return child_wait_rule(P_PID, pid, wait_options);
  if (pid == -1) return child_wait_rule(P_ALL, 0, wait_options);
  return child_wait_rule(P_PGID, pid == 0 ? 0 : -pid, wait_options);
}
inline BlockRule waitid_rule(idtype_t idtype, id_t id, int options) {
  if ((options & WNOHANG) != 0) return BlockRule::kNever;
  return child_wait_rule(idtype, static_cast<long>(id), options);
}
// sync_file_range() waits only with a SYNC_FILE_RANGE_WAIT_* flag; without, it starts writeback.
inline BlockRule sync_range_rule(unsigned int flags) {
  return (flags & (SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WAIT_AFTER)) != 0
             ? BlockRule::kAlways
             : BlockRule::kNever;
}

// A wait on a polling set, opened around the real epoll/poll/select call: the loop's own wait,
// a nested one (a blocking call when `timeout_ms` is not 0; -1 = infinite), or neither.
class PollingWait {
 public:
  PollingWait(const char* call, loop_tracker::Wait wait, int64_t timeout_ms, const void* caller)
      : own_(wait == loop_tracker::Wait::kOwn),
        scope_(BlockingCall{call,
                            wait == loop_tracker::Wait::kNested && timeout_ms != 0
                                ? BlockRule::kAlways
                                : BlockRule::kNever,
                            timeout_ms > 0 ? timeout_ms * 1000000 : -1, caller}) {
    if (own_) {
      __atomic_store_n(&tls_state.in_loop_wait, uint8_t{1}, __ATOMIC_RELAXED);
      wait_entering();
    }
  }
  ~PollingWait() {
    if (!own_) return;
    ThreadState& t = tls_state;
    __atomic_store_n(&t.in_loop_wait, uint8_t{0}, __ATOMIC_RELAXED);
    __atomic_store_n(&t.loop_wait_returns, t.loop_wait_returns + 1, __ATOMIC_RELAXED);
    // Ordered against the watchdog's going idle by its membarrier() (core/watchdog.h).
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (t.pending_confirmations != 0 || t.stall_watch == 0 ||
        __atomic_load_n(&t.stall_open, __ATOMIC_RELAXED) != 0 ||
        g_loop_wait_end_wanted.load(std::memory_order_relaxed)) {
      loop_wait_ended(-1);
    }
  }
  PollingWait(const PollingWait&) = delete;
  PollingWait& operator=(const PollingWait&) = delete;

 private:
  bool own_;
  BlockingScope scope_;
};

// What a wait is to the calling thread: the fast answers inline, the rest (which may start a
// loop and unwind a few frames) out of line, with errno kept and the re-entrancy guard set.
loop_tracker::Wait epoll_wait_kind_slow(int epfd);
// What a poll()/select() waits on, read only when the answer needs it (a thread that may start
// a loop), and then through a copy that fails instead of faulting on a bad pointer: the host
// must get its EFAULT, not a crash.
struct PollSet {
  const void* pollfds = nullptr;                      // poll/ppoll: the pollfd array
  unsigned long count = 0;                            // its length, or select's nfds
  const void* sets[3] = {nullptr, nullptr, nullptr};  // select/pselect: the fd_sets
};
loop_tracker::Wait poll_wait_kind_slow(uintptr_t site, const PollSet& set);
inline loop_tracker::Wait epoll_wait_kind(int epfd) {
  if (!enabled() || signal_handlers::in_handler()) return loop_tracker::Wait::kNone;
  const ThreadState& t = tls_state;
  // The loop's own set: its own wait. (Whether the functions that run the loop are still
  // running is asked when a blocking call needs the answer, not on every wait.)
  if (t.in_loop && t.loop_fd == epfd && loop_tracker::generation_of(epfd) == t.loop_generation) {
    return loop_tracker::Wait::kOwn;
  }
  return epoll_wait_kind_slow(epfd);
}
inline loop_tracker::Wait poll_wait_kind(const void* site, const PollSet& set) {
  if (!enabled() || signal_handlers::in_handler()) return loop_tracker::Wait::kNone;
  const ThreadState& t = tls_state;
  auto at = reinterpret_cast<uintptr_t>(site);
  if (t.poll_loop && t.poll_site == at && loop_tracker::poll_loop_live()) {
    tls_state.poll_confirmed = 1;
    return loop_tracker::Wait::kOwn;
  }
  return poll_wait_kind_slow(at, set);
}

// loopsan_allow_blocking_begin/end (C API): known waits the user accepts.
void allow_blocking_begin(const char* reason);
void allow_blocking_end();

// --- Descriptors --------------------------------------------------------------------------------

// The host closes [first, last] (inclusive). `caller` is the wrapper's return address: libunwind
// closing its own pipe is not the host. A vfork() child's closes do not end our loops.
void fds_closing_slow(unsigned first, unsigned last, const void* caller);
inline void fd_closing(int fd, const void* caller) {
  fd_status::forget(fd);
  if (fd >= 0 && (loop_tracker::is_loop_fd(fd) || unwinder_pipe::involves(fd))) {
    fds_closing_slow(static_cast<unsigned>(fd), static_cast<unsigned>(fd), caller);
  }
}
inline void fds_closing(unsigned first, unsigned last, const void* caller) {
  fd_status::forget_range(first, last);
  fds_closing_slow(first, last, caller);
}
// After a close: a query made while it ran may have cached the closed file's answer.
inline void fd_closed(int fd) {
  fd_status::forget(fd);
}
// dup2()/dup3() of `fd` onto `copy` (or dup/F_DUPFD giving `copy`): the number now names
// another open file, shared with `fd`.
inline void fd_duplicated(int fd, int copy) {
  fd_status::forget(copy);
  fd_status::duplicated_to(fd, copy);
}
// fcntl(F_SETFL)/ioctl(FIONBIO) on `fd`: O_NONBLOCK may have changed.
inline void fd_flags_changed(int fd) {
  fd_status::flags_changed(fd);
}

// pipe2() called from libunwind (its memory-validation pipe): the pipe is moved out of the
// host's descriptor range (stacks/unwinder_pipe.h).
bool is_unwinder_call(const void* caller);
// `fds` is libunwind's own array; `fresh` the pipe the real pipe2() just opened.
void unwinder_pipe_opened(int fds[2], const int fresh[2]);

// --- Shared libraries -------------------------------------------------------------------------

// dlopen(path, flags) is about to run (RTLD_DEEPBIND: the library will bypass loopsan).
void library_opening(const char* path, int flags);
// dlclose(handle): `library_closing` before the call (the object's identity is read while it is
// certainly mapped), `library_closed` after it with dlclose's result.
struct ClosingLibrary {
  bool known;  // set by library_closing; the rest only when known
  uintptr_t load_bias;
  char path[4096];  // a copy: the loader frees its own once the object is gone
};
void library_closing(void* handle, ClosingLibrary& out);
void library_closed(const ClosingLibrary& library, int rc);

// --- C++ exceptions and futures (libstdc++)
// -------------------------------------------------------

// `obj` is the thrown object as __cxa_throw receives it.
void exception_thrown(void* obj, const void* type_info);
void exception_made(void* obj, const void* type_info);  // std::make_exception_ptr
void exception_captured(void* obj);                     // into an exception_ptr
void exception_rethrown(void* obj);                     // std::rethrow_exception: retrieved
void exception_freed(void* obj);
// std::__future_base::_Result_base constructed / about to be destroyed.
void future_result_created(void* result);
void future_result_destroying(void* result);
// Custom future types (C API); `future` is the caller's identity for it.
void custom_future_created(const void* future);
void custom_future_failed(const void* future, const char* type, const char* what);
void custom_future_retrieved(const void* future);
void custom_future_destroyed(const void* future);

// --- Thread pools (C API) ----------------------------------------------------------------------
// `pool` and `task` are the caller's identities (core/pools.h); task may be null for a FIFO queue.
void pool_created(const void* pool, const char* name, int max_workers);
void pool_destroyed(const void* pool);
void pool_task_queued(const void* pool, const void* task);
void pool_task_dropped(const void* pool, const void* task);
void pool_task_started(const void* pool, const void* task);
void pool_task_finished(const void* pool, const void* task);

// std::set_terminate / std::get_terminate as the host sees them: loopsan's handler stays
// installed and runs the host's. `caller` is get_terminate's return address: libstdc++'s own
// std::terminate() must get loopsan's handler.
using TerminateHandler = void (*)();
TerminateHandler host_set_terminate(TerminateHandler handler);
TerminateHandler terminate_handler_for(const void* caller);

// --- Signals ------------------------------------------------------------------------------------

// sigaction()/signal() for a signal whose default action ends the process: loopsan keeps its
// summary handler in the kernel while the host's view is SIG_DFL.
bool signal_watched(int sig);
int host_sigaction(int sig, const struct sigaction* act, struct sigaction* oldact);
// Any other signal: the host's handler runs through loopsan's trampoline, which marks the
// thread as inside a signal handler (core/signal_handlers.h).
int plain_sigaction(int sig, const struct sigaction* act, struct sigaction* oldact);

// --- Runtime bridges
// ------------------------------------------------------------------------------

// A bridge (CPython) waits for the host to make a call from a thread where it can install its
// hooks; the shim calls this from wrappers such a host calls early (sigaction, pthread_create).
extern std::atomic<int> g_runtime_waiting;
void runtime_checkpoint_slow();
inline void runtime_checkpoint() {
  if (g_runtime_waiting.load(std::memory_order_relaxed) != 0) runtime_checkpoint_slow();
}

// --- Questions from the C API -------------------------------------------------------------------

uint64_t findings_count();
void flush_report();

// Test boundaries (report/test_attribution.h). The report functions follow snprintf.
void test_begin(const char* name);
uint64_t test_end();
size_t test_report(char* buf, size_t size);
size_t test_kinds(char* buf, size_t size);

}  // namespace loopsan::events
