// Where each event of events.h goes. Every out-of-line event keeps errno as the host left it
// and sets the re-entrancy guard while agent code runs, so the shim's wrappers stay thin.
// Events check enabled(), not just active(): the guard is also what makes agent work pass
// through on the thread that forks while glibc runs the host's fork handlers, before the
// child's agent has dropped what other threads held (lifecycle.cc, fork_starting).
// Events that several modules care about go over the module table (core/module.h); the others
// have one consumer, named here.
#include "agent/events.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/select.h>
#include <dlfcn.h>
#include <link.h>
#include <netdb.h>

#include <climits>
#include <cstring>

#include "agent/base/log.h"
#include "agent/base/sys.h"
#include "agent/base/text.h"
#include "agent/core/loop_tracker.h"
#include "agent/core/module.h"
#include "agent/core/pools.h"
#include "agent/core/process_info.h"
#include "agent/core/signal_handlers.h"
#include "agent/core/thread_registry.h"
#include "agent/detectors/blocking.h"
#include "agent/detectors/future_tracker.h"
#include "agent/detectors/gil_contention.h"
#include "agent/detectors/uncaught.h"
#include "agent/detectors/waits.h"
#include "agent/report/fatal_signals.h"
#include "agent/report/reporter.h"
#include "agent/report/report_file.h"
#include "agent/report/test_attribution.h"
#include "agent/runtimes/cxx_exceptions.h"
#include "agent/runtimes/gil_waits.h"
#include "agent/runtimes/python_bridge.h"
#include "agent/runtimes/python_hooks.h"
#include "agent/stacks/sampler.h"
#include "agent/stacks/stack.h"
#include "agent/stacks/unwinder_pipe.h"

namespace loopsan::events {

std::atomic<bool> g_loop_wait_end_wanted{false};
std::atomic<int> g_runtime_waiting{0};

namespace {

// Agent work on behalf of a wrapper: errno kept, re-entrancy guard set.
struct AgentScope {
  ErrnoSaver errno_saver;
  ReentryGuard guard;
};

}  // namespace

// --- Threads -----------------------------------------------------------------------------------

ThreadCreation thread_creating(const pthread_attr_t* attr) {
  ThreadCreation creation;
  if (!enabled()) return creation;
  AgentScope scope;
  int state = PTHREAD_CREATE_JOINABLE;
  if (attr != nullptr) pthread_attr_getdetachstate(attr, &state);
  bool detached = state == PTHREAD_CREATE_DETACHED;
  // A few microseconds, next to the tens a thread creation costs (README, "Performance").
  StackId stack = detached ? 0 : capture_stack();
  creation.record = registry::thread_creating(current_tid(), stack, detached);
  return creation;
}

void thread_created(const ThreadCreation& creation, int rc, pthread_t thread) {
  if (creation.record == nullptr) return;
  AgentScope scope;  // whatever the guard: the record must not be lost
  registry::thread_created(static_cast<ThreadRecord*>(creation.record), rc == 0, thread);
}

void thread_started(pid_t creator_tid, const ThreadCreation& creation) {
  if (creation.record != nullptr) {
    AgentScope scope;
    registry::thread_started(static_cast<ThreadRecord*>(creation.record));
    waits::thread_started();
    return;
  }
  if (!enabled()) return;
  AgentScope scope;
  registry::thread_started(creator_tid);
  waits::thread_started();
}

void thread_exiting() {
  if (!enabled()) return;
  AgentScope scope;
  for (const Module* m = modules::begin(); m != modules::end(); ++m) {
    if (m->thread_exiting != nullptr) m->thread_exiting();
  }
}

void thread_joined(pthread_t thread) {
  if (!enabled()) return;
  AgentScope scope;
  registry::thread_joined(thread);
}

void thread_detached(pthread_t thread) {
  if (!enabled()) return;
  AgentScope scope;
  registry::thread_detached(thread);
}

void thread_named(pthread_t thread, const char* name) {
  if (!enabled()) return;
  AgentScope scope;
  registry::thread_named(thread, name);
}

// --- Event loops ------------------------------------------------------------------------------

void loop_wait_ended(int epfd) {
  if (!enabled() || !same_process()) return;
  AgentScope scope;
  for (const Module* m = modules::begin(); m != modules::end(); ++m) {
    if (m->loop_wait_ended != nullptr) m->loop_wait_ended(epfd);
  }
}

// A vfork() child runs on its parent's thread state but must not change the parent's memory
// (or unwind, which may allocate): its waits are nobody's loop.
loop_tracker::Wait epoll_wait_kind_slow(int epfd) {
  if (!same_process()) return loop_tracker::Wait::kNone;
  AgentScope scope;
  return loop_tracker::epoll_wait_slow(epfd, !python::thread_runs_python());
}

namespace {

// How many descriptors a poll()/select() waits on, counting to 2 at most (all a loop test
// needs); 0 when the memory cannot be read.
int descriptors_in(const PollSet& set) {
  // Fewer than two entries (or select's nfds below 2) cannot hold two descriptors: no copy.
  if (set.count < 2) return static_cast<int>(set.count);
  int count = 0;
  if (set.pollfds != nullptr) {
    struct pollfd_copy {
      int fd;
      short events, revents;
    } chunk[16];
    for (unsigned long done = 0; done < set.count && count < 2; done += 16) {
      unsigned long n = set.count - done < 16 ? set.count - done : 16;
      if (!sys::read_memory(chunk, static_cast<const pollfd_copy*>(set.pollfds) + done,
                            n * sizeof chunk[0])) {
        return 0;
      }
      for (unsigned long i = 0; i < n && count < 2; ++i) count += chunk[i].fd >= 0 ? 1 : 0;
    }
    return count;
  }
  unsigned long nfds = set.count > FD_SETSIZE ? FD_SETSIZE : set.count;
  size_t bytes = (nfds + 63) / 64 * 8;
  for (const void* p : set.sets) {
    uint64_t words[FD_SETSIZE / 64] = {};
    if (p == nullptr || bytes == 0) continue;
    if (!sys::read_memory(words, p, bytes)) return 0;
    for (size_t w = 0; w < bytes / 8 && count < 2; ++w) {
      count += __builtin_popcountll(words[w]);
    }
    if (count >= 2) return 2;
  }
  return count > 2 ? 2 : count;
}

}  // namespace

loop_tracker::Wait poll_wait_kind_slow(uintptr_t site, const PollSet& set) {
  if (!same_process()) return loop_tracker::Wait::kNone;
  AgentScope scope;
  return loop_tracker::poll_wait_slow(site, descriptors_in(set), !python::thread_runs_python());
}

void loop_enter(const char*) {
  if (active()) loop_tracker::enter();
}

void loop_exit() {
  if (active()) loop_tracker::exit();
}

void runtime_loop_running(bool running) {
  if (active()) loop_tracker::python_loop_running(running);
}

// --- Blocking calls ---------------------------------------------------------------------------

bool blocking_begin(const BlockingCall& call, BlockingState& state) {
  if (!active()) return false;
  AgentScope scope;
  return blocking::begin(call, state);
}

std::atomic<int64_t> g_block_threshold_ns{100000000};

// --- The GIL ----------------------------------------------------------------------------------

GilConds g_gil_conds{0, 0};

void gil_waited(int64_t start_ns) {
  // No guard, no errno to keep on the common path: a clock read and a store to this thread's
  // own counter, the wait itself having cost a futex round trip.
  int64_t now = sys::monotonic_ns();
  gil_waits::add(now - start_ns);
  gil_contention::gil_waited(now);
}

void blocking_threshold_exceeded(BlockingState& state) {
  if (!active()) return;
  AgentScope scope;
  blocking::threshold_exceeded(state);
}

void blocking_end(BlockingState& state) {
  AgentScope scope;
  blocking::end(state);
}

BlockRule fd_rule_slow(int fd) {
  // A vfork child's descriptor table is its own: its answers must not enter our cache.
  if (!same_process()) return BlockRule::kNever;
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  switch (fd_status::query(fd)) {
    case fd_status::Blocking::kNonBlocking:
      return BlockRule::kNever;
    case fd_status::Blocking::kBlockingSocket:
      return BlockRule::kAlways;
    case fd_status::Blocking::kBlockingOther:
      return BlockRule::kThreshold;
    default:
      return BlockRule::kNever;  // not open: the call fails at once
  }
}

BlockRule child_wait_rule(int idtype, long id, int options) {
  ErrnoSaver errno_saver;
  siginfo_t info{};
  long rc = sys::call_with(SYS_waitid, idtype, id, &info, options | WNOHANG | WNOWAIT, nullptr);
  // Ready now, or failing at once (no such child): no wait.
  if (rc != 0 || info.si_pid != 0) return BlockRule::kNever;
  return BlockRule::kAlways;
}

BlockRule host_rule(const char* node, const ::addrinfo* hints) {
  // No host: the wildcard or loopback address, resolved in place.
  if (node == nullptr) return BlockRule::kNever;
  if (hints != nullptr && (hints->ai_flags & AI_NUMERICHOST) != 0) return BlockRule::kNever;
  ErrnoSaver errno_saver;
  unsigned char addr[sizeof(in6_addr)];
  if (inet_pton(AF_INET, node, addr) == 1 || inet_pton(AF_INET6, node, addr) == 1) {
    return BlockRule::kNever;
  }
  return BlockRule::kAlways;
}

BlockRule address_rule(int flags) {
  // getnameinfo asks the resolver only for a name; numeric answers are formatted in place.
  return (flags & NI_NUMERICHOST) != 0 && (flags & NI_NUMERICSERV) != 0 ? BlockRule::kNever
                                                                        : BlockRule::kAlways;
}

void settle_sample() {
  ErrnoSaver errno_saver;
  sampler::settle();
}

void allow_blocking_begin(const char*) {
  ++tls_state.allow_blocking_depth;
}

void allow_blocking_end() {
  if (tls_state.allow_blocking_depth > 0) --tls_state.allow_blocking_depth;
}

// --- Descriptors ------------------------------------------------------------------------------

void fds_closing_slow(unsigned first, unsigned last, const void* caller) {
  // A vfork() child (subprocess, posix_spawn) closes descriptors in our own address space
  // before it execs: its descriptor table is its own, its memory is ours. Its closes must
  // neither end the parent's loops nor make libunwind forget the parent's pipe.
  if (!active() || !same_process()) return;
  ErrnoSaver errno_saver;
  loop_tracker::loop_fds_closed(first, last);
  // libunwind forgets its pipe before the host can reuse the numbers; not libunwind's own
  // closes.
  if (unwinder_pipe::in_range(first, last) && !is_unwinder_code(caller)) {
    unwinder_pipe::host_closing(static_cast<int>(first),
                                static_cast<int>(last > INT_MAX ? INT_MAX : last), REAL(close));
  }
}

bool is_unwinder_call(const void* caller) {
  return is_unwinder_code(caller);
}

void unwinder_pipe_opened(int fds[2], const int fresh[2]) {
  // libunwind asks for O_CLOEXEC | O_NONBLOCK: the copies are close-on-exec, and O_NONBLOCK
  // belongs to the open pipe, which they share.
  fds[0] = sys::move_to_high_fd(fresh[0]);
  fds[1] = sys::move_to_high_fd(fresh[1]);
  unwinder_pipe::adopt(fds);
}

// --- Shared libraries -----------------------------------------------------------------------

void library_opening(const char* path, int flags) {
  if (!enabled() || (flags & RTLD_DEEPBIND) == 0 || !same_process()) return;
  AgentScope scope;
  // A library loaded with RTLD_DEEPBIND binds its own references to libc before the global
  // scope, where loopsan's wrappers are: its blocking calls, threads and futures are invisible
  // to loopsan. Nothing short of rewriting its relocations changes that, and the host asked
  // for this binding on purpose (usually to isolate a library's own copy of a dependency), so
  // the flag is kept and the blind spot is said once per library.
  std::string name = path != nullptr ? path : "(main program)";
  if (process_info::note_deepbind(name)) {
    log_line(cat("warning: ", name,
                 " is loaded with RTLD_DEEPBIND: loopsan does not see its "
                 "calls (the report's start line lists it under \"deepbind\")"));
  }
}

void library_closing(void* handle, ClosingLibrary& out) {
  out.known = false;
  if (!enabled() || handle == nullptr || !same_process()) return;
  AgentScope scope;
  link_map* map = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || map == nullptr) return;
  out.known = true;
  out.load_bias = map->l_addr;
  out.path[0] = '\0';
  if (map->l_name != nullptr) strncpy(out.path, map->l_name, sizeof out.path - 1);
  out.path[sizeof out.path - 1] = '\0';
}

namespace {

int still_mapped(dl_phdr_info* info, size_t, void* data) {
  return info->dlpi_addr == static_cast<const ClosingLibrary*>(data)->load_bias;
}

}  // namespace

void library_closed(const ClosingLibrary& library, int rc) {
  if (!library.known || rc != 0 || !enabled()) return;
  AgentScope scope;
  // dlclose() only drops a reference: the object is gone when no loaded object has its
  // load address any more.
  if (dl_iterate_phdr(still_mapped, const_cast<ClosingLibrary*>(&library)) != 0) return;
  for (const Module* m = modules::begin(); m != modules::end(); ++m) {
    if (m->library_unloaded != nullptr) m->library_unloaded(library.load_bias, library.path);
  }
}

// --- C++ exceptions and futures ------------------------------------------------------------------

void exception_thrown(void* obj, const void* type_info) {
  AgentScope scope;
  cxx_exceptions::on_throw(obj, type_info);
}

void exception_made(void* obj, const void* type_info) {
  AgentScope scope;
  cxx_exceptions::on_make(obj, type_info);
}

void exception_captured(void* obj) {
  AgentScope scope;
  cxx_exceptions::on_capture(obj);
}

void exception_rethrown(void* obj) {
  AgentScope scope;
  cxx_exceptions::on_rethrow(obj);
}

void exception_freed(void* obj) {
  AgentScope scope;
  cxx_exceptions::on_free(obj);
}

void future_result_created(void* result) {
  if (enabled()) future_tracker::result_created(result);
}

void future_result_destroying(void* result) {
  if (enabled()) future_tracker::result_destroying(result);
}

void pool_created(const void* pool, const char* name, int max_workers) {
  if (!enabled() || pool == nullptr) return;
  AgentScope scope;
  pools::pool_created(reinterpret_cast<uintptr_t>(pool), pools::PoolKind::kCApi,
                      name != nullptr ? name : "", max_workers > 0 ? max_workers : 0);
}

void pool_destroyed(const void* pool) {
  if (!enabled()) return;
  AgentScope scope;
  pools::pool_destroyed(reinterpret_cast<uintptr_t>(pool));
}

void pool_task_queued(const void* pool, const void* task) {
  if (!enabled()) return;
  AgentScope scope;
  uintptr_t key = reinterpret_cast<uintptr_t>(pool);
  uintptr_t id = reinterpret_cast<uintptr_t>(task);
  if (pools::task_queued(key, id, sys::monotonic_ns()) && pools::wants_submission(key)) {
    // It will wait: where it was submitted (captured before any lock).
    pools::Submission s;
    s.via = "loopsan_task_queued";
    s.stack = capture_stack();
    s.python_stack = python::capture_stack();
    s.submitter = registry::current_thread_info();
    pools::task_submission(key, id, std::move(s));
  }
}

void pool_task_dropped(const void* pool, const void* task) {
  if (!enabled()) return;
  AgentScope scope;
  pools::task_dropped(reinterpret_cast<uintptr_t>(pool), reinterpret_cast<uintptr_t>(task));
}

void pool_task_started(const void* pool, const void* task) {
  if (!enabled()) return;
  AgentScope scope;
  pools::task_started(reinterpret_cast<uintptr_t>(pool), reinterpret_cast<uintptr_t>(task), {},
                      sys::monotonic_ns());
}

void pool_task_finished(const void* pool, const void*) {
  if (!enabled()) return;
  AgentScope scope;
  pools::task_finished(reinterpret_cast<uintptr_t>(pool), sys::monotonic_ns());
}

void custom_future_created(const void* future) {
  if (!enabled()) return;
  AgentScope scope;
  future_tracker::custom_created(future);
}

void custom_future_failed(const void* future, const char* type, const char* what) {
  if (!enabled()) return;
  AgentScope scope;
  future_tracker::custom_failed(future, type, what);
}

void custom_future_retrieved(const void* future) {
  if (!enabled()) return;
  AgentScope scope;
  future_tracker::custom_retrieved(future);
}

void custom_future_destroyed(const void* future) {
  if (!enabled()) return;
  AgentScope scope;
  future_tracker::custom_destroyed(future);
}

TerminateHandler host_set_terminate(TerminateHandler handler) {
  return uncaught::host_set(handler);
}

TerminateHandler terminate_handler_for(const void* caller) {
  auto real = reinterpret_cast<TerminateHandler (*)()>(
      interception::real_function(interception::kHook__ZSt13get_terminatev));
  // libstdc++ calls get_terminate() on every throw (to fill in the exception header), so the
  // caller test is two compares against libstdc++'s address range, found once.
  static const CodeRange runtime = code_range_of(reinterpret_cast<const void*>(real));
  if (runtime.contains(caller)) return real();
  return uncaught::host_get();
}

// --- Signals ----------------------------------------------------------------------------------

bool signal_watched(int sig) {
  return active() && fatal_signals::watched(sig) && same_process();
}

int host_sigaction(int sig, const struct sigaction* act, struct sigaction* oldact) {
  return fatal_signals::host_sigaction(sig, act, oldact);
}

int plain_sigaction(int sig, const struct sigaction* act, struct sigaction* oldact) {
  auto real = REAL(sigaction);
  if (real == nullptr) return interception::missing_errno_result();
  // Not before start-up, nor in a vfork child (which must not change our table).
  if (!active() || !same_process()) return real(sig, act, oldact);
  if (sampler::owns(sig)) {
    // The stack sampler's signal: the host sees what it set. A handler of its own takes the
    // signal back, and the sampler moves to another one.
    bool handler =
        act != nullptr &&
        ((act->sa_flags & SA_SIGINFO) ? act->sa_sigaction != nullptr
                                      : act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN);
    if (!handler) return sampler::host_view(sig, act, oldact);
    struct sigaction previous {};
    sampler::host_view(sig, nullptr, &previous);
    sampler::taken_by_host(sig);
    int rc = signal_handlers::host_sigaction(real, sig, act, nullptr);
    if (rc == 0 && oldact != nullptr) *oldact = previous;
    return rc;
  }
  return signal_handlers::host_sigaction(real, sig, act, oldact);
}

// --- Runtime bridges ----------------------------------------------------------------------------

void runtime_checkpoint_slow() {
  python_hooks::register_now();
}

// --- The C API ----------------------------------------------------------------------------------

uint64_t findings_count() {
  return reporter::findings_count();
}

void flush_report() {
  if (!enabled()) return;
  AgentScope scope;
  report_file::sync();
}

// Whatever the guard: a harness may mark a test from inside code the agent watches, and a
// missed boundary would blame the wrong test.
void test_begin(const char* name) {
  if (!active() || !same_process()) return;
  AgentScope scope;
  test_attribution::begin(name);
}

uint64_t test_end() {
  if (!active() || !same_process()) return 0;
  AgentScope scope;
  return test_attribution::end();
}

namespace {
size_t empty_text(char* buf, size_t size) {
  if (buf != nullptr && size > 0) buf[0] = '\0';
  return 0;
}
}  // namespace

size_t test_report(char* buf, size_t size) {
  if (!active()) return empty_text(buf, size);
  AgentScope scope;
  return test_attribution::report(buf, size);
}

size_t test_kinds(char* buf, size_t size) {
  if (!active()) return empty_text(buf, size);
  AgentScope scope;
  return test_attribution::kinds(buf, size);
}

}  // namespace loopsan::events
