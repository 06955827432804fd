#include "agent/stacks/sampler.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "agent/base/lock.h"
#include "agent/base/options.h"
#include "agent/base/sys.h"
#include "agent/core/watchdog.h"
#include "agent/interception/interception.h"
#include "agent/runtimes/cpython_api.h"
#include "agent/stacks/parked_stack.h"

namespace loopsan::sampler {
namespace {

// --- The one request in flight --------------------------------------------------------------

enum SlotState : int { kIdle, kArmed, kWriting, kDone };

struct Slot {
  std::atomic<int> state{kIdle};  // also the futex word the watchdog waits on
  pid_t target = 0;
  int max_frames = 0;
  int python_fd = -1;
  void* (*this_thread_state)() = nullptr;
  void (*dump_traceback)(int, void*) = nullptr;
  void* (*current_isolate)() = nullptr;
  void* isolate = nullptr;
  Outcome outcome = Outcome::kOk;
  int size = 0;
  uintptr_t sp = 0;
  uintptr_t ips[kMaxStackDepth] = {};
};
Slot slot;

// How long the watchdog waits for the handler: a runnable thread on a machine short of CPUs
// may not be scheduled for tens of milliseconds.
constexpr int64_t kWaitNs = 200 * 1000000;
// How long a thread entering a wait waits for a signal already sent to it (it is running, so
// it gets it at its next system call's return; more only if the host blocked it meanwhile).
constexpr int64_t kSettleNs = 100 * 1000000;

// --- Where unwinding is unsafe ---------------------------------------------------------------

// ld.so's _rtld_global: _dl_load_write_lock (held by dl_iterate_phdr and link-map updates) and
// _dl_load_lock 40 bytes before it (dlopen/dlclose, constructors included, dladdr), both
// recursive pthread mutexes whose owner tid sits at +8. The offsets are private to glibc, so
// they are found, not assumed: inside a dl_iterate_phdr callback this thread owns the write
// lock, the one recursive mutex of _rtld_global with count 1 and owner == our tid.
const char* rtld = nullptr;
long write_lock_at = -1, load_lock_at = -1;
CodeRange loader_code, gcc_code;

using parked::MutexWords;

MutexWords mutex_at(long offset) {
  MutexWords m;
  memcpy(&m, rtld + offset, sizeof m);
  return m;
}

struct Calibration {
  size_t size;
  pid_t tid;
  long found;
};

int calibrate(dl_phdr_info*, size_t, void* data) {
  auto* c = static_cast<Calibration*>(data);
  for (size_t off = 0; off + sizeof(MutexWords) <= c->size; off += 8) {
    MutexWords m = mutex_at(static_cast<long>(off));
    if (m.owner == c->tid && m.count == 1 && (m.kind & 0x7f) == PTHREAD_MUTEX_RECURSIVE_NP) {
      c->found = static_cast<long>(off);
      break;
    }
  }
  return 1;  // once is enough
}

void find_loader_locks() {
  void* sym = dlvsym(RTLD_DEFAULT, "_rtld_global", "GLIBC_PRIVATE");
  if (sym == nullptr) sym = dlsym(RTLD_DEFAULT, "_rtld_global");
  if (sym == nullptr) return;
  Dl_info info{};
  ElfW(Sym)* entry = nullptr;
  size_t size = 4096;
  if (dladdr1(sym, &info, reinterpret_cast<void**>(&entry), RTLD_DL_SYMENT) != 0 &&
      entry != nullptr && entry->st_size != 0) {
    size = entry->st_size;
  }
  rtld = static_cast<const char*>(sym);
  loader_code = code_range_of(sym);
  Calibration c{size, current_tid(), -1};
  dl_iterate_phdr(calibrate, &c);
  if (c.found < 40) return;
  MutexWords load = mutex_at(c.found - 40);
  if ((load.kind & 0x7f) != PTHREAD_MUTEX_RECURSIVE_NP || load.owner == c.tid) return;
  load_lock_at = c.found - 40;
  write_lock_at = c.found;
}

bool in_loader(pid_t tid, uintptr_t pc) {
  if (loader_code.contains(reinterpret_cast<const void*>(pc))) return true;
  if (write_lock_at < 0) return false;
  return mutex_at(write_lock_at).owner == tid || mutex_at(load_lock_at).owner == tid;
}

// --- The handler ---------------------------------------------------------------------------

std::atomic<int> signo{0};
uint64_t given_up = 0;  // signals the host took back: not chosen again
Lock signal_lock;       // signo's choice and the host's view (never taken in a handler)
struct sigaction host_action;
pid_t own_pid = 0;

// Room the unwinder (and CPython's dump) needs below the handler's frame.
constexpr uintptr_t kStackRoom = 32 * 1024;

// On the thread's alternate signal stack (SA_ONSTACK) with less than kStackRoom left: a host
// may give it only MINSIGSTKSZ, enough for its own handler, not for libunwind.
bool short_of_stack() {
  stack_t ss{};
  if (sys::call_with(SYS_sigaltstack, nullptr, &ss) != 0 || !(ss.ss_flags & SS_ONSTACK)) {
    return false;
  }
  auto here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  auto low = reinterpret_cast<uintptr_t>(ss.ss_sp);
  return here < low || here - low < kStackRoom;
}

void take_sample(ThreadState& t, pid_t tid, ucontext_t* uc) {
  auto pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  slot.sp = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
  slot.size = 0;
  if (short_of_stack()) {
    slot.outcome = Outcome::kSmallStack;
  } else if (t.guard != 0) {
    slot.outcome = Outcome::kInLoopsan;
  } else if (std::uncaught_exceptions() > 0) {
    // Throwing or catching (landing pads, cleanups): libgcc is rewriting this stack.
    slot.outcome = Outcome::kUnwindingException;
  } else if (in_loader(tid, pc)) {
    slot.outcome = Outcome::kInLoader;
  } else if (is_unwinder_code(reinterpret_cast<const void*>(pc)) ||
             gcc_code.contains(reinterpret_cast<const void*>(pc))) {
    slot.outcome = Outcome::kInUnwinder;
  } else {
    // Wrappers that libunwind (its validation pipe) or CPython's dump reach pass through.
    ++t.guard;
    unw_cursor_t cursor;
    // On x86-64 libunwind's context is the ucontext: the walk starts at the interrupted pc.
    if (unw_init_local2(&cursor, reinterpret_cast<unw_context_t*>(uc), UNW_INIT_SIGNAL_FRAME) ==
        0) {
      int n = 0;
      do {
        unw_word_t ip = 0;
        if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0 || ip == 0) break;
        if (!is_own_code(ip)) slot.ips[n++] = ip;
      } while (n < slot.max_frames && unw_step(&cursor) > 0);
      slot.size = n;
    }
    slot.isolate = slot.current_isolate != nullptr ? slot.current_isolate() : nullptr;
    if (slot.python_fd >= 0 && slot.this_thread_state != nullptr) {
      if (void* tstate = slot.this_thread_state()) slot.dump_traceback(slot.python_fd, tstate);
    }
    --t.guard;
    slot.outcome = Outcome::kOk;
  }
}

// A signal that is not a sample (another process, the kernel's SIGURG for out-of-band data):
// what the host's view says. A real-time signal at SIG_DFL ends the process, as it would have.
void not_a_sample(int sig) {
  struct sigaction view = host_action;
  bool dfl = !(view.sa_flags & SA_SIGINFO) && view.sa_handler == SIG_DFL;
  if (sig == SIGURG || !dfl) return;
  struct sigaction a {};
  a.sa_handler = SIG_DFL;
  sigemptyset(&a.sa_mask);
  if (auto real = REAL(sigaction)) real(sig, &a, nullptr);
  sys::call_with(SYS_tgkill, sys::getpid(), sys::gettid(), sig);
}

void handler(int sig, siginfo_t* info, void* context) {
  int saved_errno = errno;
  if (info == nullptr || info->si_code != SI_TKILL || info->si_pid != own_pid) {
    not_a_sample(sig);
    errno = saved_errno;
    return;
  }
  ThreadState& t = tls_state;
  pid_t tid = current_tid();
  int expected = kArmed;
  if (slot.state.compare_exchange_strong(expected, kWriting, std::memory_order_acq_rel)) {
    if (slot.target == tid) {
      take_sample(t, tid, static_cast<ucontext_t*>(context));
      slot.state.store(kDone, std::memory_order_release);
      sys::call_with(SYS_futex, &slot.state, FUTEX_WAKE_PRIVATE, 1);
    } else {
      slot.state.store(kArmed, std::memory_order_release);  // not for this thread
    }
  }
  __atomic_store_n(&t.sample_state, 0, __ATOMIC_RELEASE);
  errno = saved_errno;
}

bool is_function(const struct sigaction& a) {
  if (a.sa_flags & SA_SIGINFO) return a.sa_sigaction != nullptr;
  return a.sa_handler != SIG_DFL && a.sa_handler != SIG_IGN;
}

// Takes `sig` if the host has no handler for it. Called with signal_lock held.
bool try_signal(int sig) {
  auto real = REAL(sigaction);
  if (real == nullptr || (given_up & (uint64_t{1} << sig))) return false;
  struct sigaction current {};
  if (real(sig, nullptr, &current) != 0 || is_function(current)) return false;
  struct sigaction ours {};
  ours.sa_sigaction = handler;
  ours.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigfillset(&ours.sa_mask);
  if (real(sig, &ours, nullptr) != 0) return false;
  host_action = current;
  signo.store(sig, std::memory_order_release);
  return true;
}

bool ensure_signal() {
  if (signo.load(std::memory_order_acquire) != 0) return true;
  LockGuard g(signal_lock);
  if (signo.load(std::memory_order_relaxed) != 0) return true;
  own_pid = sys::getpid();
  if (try_signal(SIGURG)) return true;
  // glibc's SIGRTMIN already skips the ones it uses itself; libraries that take real-time
  // signals usually count up from SIGRTMIN, so count down from SIGRTMAX.
  for (int sig = SIGRTMAX; sig > SIGRTMIN + 2; --sig) {
    if (try_signal(sig)) return true;
  }
  return false;
}

// One walk of this thread's stack on the unw_step path, so that libunwind's process-wide
// set-up (its validation pipe, lazy bindings) never happens first inside a handler.
void warm_up_unwinder() {
  unw_context_t context;
  unw_cursor_t cursor;
  if (unw_getcontext(&context) != 0 || unw_init_local(&cursor, &context) != 0) return;
  for (int i = 0; i < 32 && unw_step(&cursor) > 0; ++i) {
  }
}

bool signal_blocked(pid_t tid, int sig) {
  char path[64], text[2048];
  snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
  if (sys::read_small_file(path, text, sizeof text) <= 0) return false;
  const char* line = strstr(text, "\nSigBlk:");
  if (line == nullptr) return false;
  unsigned long long mask = strtoull(line + 8, nullptr, 16);
  return (mask >> (sig - 1)) & 1;
}

// In a system call right now (not "running"): /proc/self/task/TID/syscall starts with its
// number while the thread is blocked in one.
bool in_system_call(pid_t tid) {
  char path[64], text[256];
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
  if (sys::read_small_file(path, text, sizeof text) <= 0) return false;
  return text[0] >= '0' && text[0] <= '9';
}

void cancel(ThreadState* state) {
  int expected = 1;
  __atomic_compare_exchange_n(&state->sample_state, &expected, 0, false, __ATOMIC_ACQ_REL,
                              __ATOMIC_RELAXED);
}

bool prepared = false;

}  // namespace

const char* describe(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk:
      return "sampled";
    case Outcome::kNotRunning:
      return "the thread entered a wait";
    case Outcome::kBlocked:
      return "signal blocked by the host on that thread";
    case Outcome::kTimeout:
      return "the thread did not answer the sampling signal in time";
    case Outcome::kNoSignal:
      return "no signal free for sampling (the host handles them all)";
    case Outcome::kNoBarrier:
      return "not sampled: the kernel lacks membarrier(2)";
    case Outcome::kInLoader:
      return "stack omitted: inside the dynamic loader";
    case Outcome::kInUnwinder:
      return "stack omitted: inside the unwinder";
    case Outcome::kUnwindingException:
      return "stack omitted: a C++ exception is being thrown or caught";
    case Outcome::kInLoopsan:
      return "stack omitted: inside loopsan";
    case Outcome::kSmallStack:
      return "stack omitted: the thread's alternate signal stack is too small";
    case Outcome::kGone:
      return "the thread has exited";
  }
  return "unknown";
}

bool prepare() {
  if (!prepared) {
    prepared = true;
    warm_up_unwinder();
    find_loader_locks();
    if (void* gcc = REAL(dlopen)("libgcc_s.so.1", RTLD_NOW | RTLD_NOLOAD)) {
      gcc_code = code_range_of(dlsym(gcc, "_Unwind_RaiseException"));
      dlclose(gcc);
    }
  }
  return ensure_signal();
}

Outcome send(pid_t tid, ThreadState* state, bool python, void* (*isolate)()) {
  if (!ensure_signal()) return Outcome::kNoSignal;
  int sig = signo.load(std::memory_order_acquire);
  // The watchdog's half of the handshake (events::wait_entering is the thread's): request,
  // barrier, then look. A wait entered before the barrier is seen here; one entered after it
  // sees the request and settles it.
  ThreadState unknown{};  // a thread whose state we do not know: no handshake
  if (state == nullptr) {
    state = &unknown;
  } else {
    __atomic_store_n(&state->sample_state, 1, __ATOMIC_SEQ_CST);
    // The thread's side of the handshake is a plain store: without membarrier the two sides
    // may miss each other and the signal land in a wait, which would fail with EINTR.
    if (!watchdog::heavy_barrier()) {
      cancel(state);
      return Outcome::kNoBarrier;
    }
  }
  if (__atomic_load_n(&state->in_loop_wait, __ATOMIC_RELAXED) != 0 ||
      __atomic_load_n(&state->in_call, __ATOMIC_RELAXED) != 0 || in_system_call(tid)) {
    cancel(state);
    return Outcome::kNotRunning;
  }
  if (signal_blocked(tid, sig)) {
    cancel(state);
    return Outcome::kBlocked;
  }
  if (state == &unknown) unknown.sample_state = 1;
  slot.target = tid;
  slot.max_frames = static_cast<int>(options().stack_depth);
  if (slot.max_frames > kMaxStackDepth) slot.max_frames = kMaxStackDepth;
  slot.python_fd = -1;
  slot.this_thread_state = nullptr;
  slot.current_isolate = isolate;
  slot.isolate = nullptr;
  if (python) {
    // An anonymous in-memory file, which never fills up and blocks the handler; at a high
    // number, and only for this one sample.
    int fd = static_cast<int>(sys::call_with(SYS_memfd_create, "loopsan-pystack", MFD_CLOEXEC));
    if (fd >= 0) {
      slot.python_fd = sys::move_to_high_fd(fd);
      slot.this_thread_state = cpython::api.this_thread_state;
      slot.dump_traceback = cpython::api.dump_traceback;
    }
  }
  slot.state.store(kArmed, std::memory_order_release);
  int expected = 1;
  if (!__atomic_compare_exchange_n(&state->sample_state, &expected, 2, false, __ATOMIC_ACQ_REL,
                                   __ATOMIC_RELAXED)) {
    // The thread cancelled: it is entering a wait.
    slot.state.store(kIdle, std::memory_order_release);
    if (slot.python_fd >= 0) sys::close(slot.python_fd);
    return Outcome::kNotRunning;
  }
  if (sys::call_with(SYS_tgkill, sys::getpid(), tid, sig) != 0) {
    slot.state.store(kIdle, std::memory_order_release);
    if (slot.python_fd >= 0) sys::close(slot.python_fd);
    __atomic_store_n(&state->sample_state, 0, __ATOMIC_RELEASE);
    return Outcome::kGone;
  }
  return Outcome::kOk;
}

void finish(Result& out) {
  int64_t deadline = sys::monotonic_ns() + kWaitNs;
  int s;
  while ((s = slot.state.load(std::memory_order_acquire)) != kDone) {
    int64_t left = deadline - sys::monotonic_ns();
    if (left <= 0) {
      int expected = kArmed;
      if (slot.state.compare_exchange_strong(expected, kIdle, std::memory_order_acq_rel)) break;
      // The handler is writing: it is short, wait for it.
      deadline = sys::monotonic_ns() + kWaitNs;
      continue;
    }
    timespec ts{left / 1000000000, left % 1000000000};
    sys::call_with(SYS_futex, &slot.state, FUTEX_WAIT_PRIVATE, s, &ts);
  }
  out.python_dump.clear();
  out.isolate = nullptr;
  if (s == kDone) {
    out.outcome = slot.outcome;
    out.size = slot.size;
    out.sp = slot.sp;
    out.isolate = slot.isolate;
    memcpy(out.ips, slot.ips, sizeof(uintptr_t) * static_cast<size_t>(slot.size));
    if (slot.python_fd >= 0) {
      char buf[4096];
      for (long at = 0;;) {
        long n = sys::call_with(SYS_pread64, slot.python_fd, buf, sizeof buf, at);
        if (n <= 0) break;
        out.python_dump.append(buf, static_cast<size_t>(n));
        at += n;
      }
    }
  } else {
    out.outcome = Outcome::kTimeout;
    out.size = 0;
  }
  if (slot.python_fd >= 0) sys::close(slot.python_fd);
  slot.python_fd = -1;
  slot.state.store(kIdle, std::memory_order_release);
}

void release(ThreadState* state) {
  int expected = 2;
  __atomic_compare_exchange_n(&state->sample_state, &expected, 0, false, __ATOMIC_ACQ_REL,
                              __ATOMIC_RELAXED);
}

void settle() {
  ThreadState& t = tls_state;
  int64_t deadline = 0;
  for (;;) {
    int s = __atomic_load_n(&t.sample_state, __ATOMIC_ACQUIRE);
    if (s == 0) return;
    if (s == 1) {
      // Not sent yet: cancel it; the watchdog then sends nothing.
      if (__atomic_compare_exchange_n(&t.sample_state, &s, 0, false, __ATOMIC_ACQ_REL,
                                      __ATOMIC_RELAXED)) {
        return;
      }
      continue;
    }
    // Sent: the signal is delivered when a system call returns to user mode, before the wait.
    sys::call(SYS_sched_yield);
    int64_t now = sys::monotonic_ns();
    if (deadline == 0) deadline = now + kSettleNs;
    if (now > deadline) return;  // the host blocked it meanwhile: it cannot interrupt anything
  }
}

bool owns(int sig) {
  return sig > 0 && sig == signo.load(std::memory_order_acquire);
}

void taken_by_host(int sig) {
  LockGuard g(signal_lock);
  if (sig != signo.load(std::memory_order_relaxed)) return;
  given_up |= uint64_t{1} << sig;
  signo.store(0, std::memory_order_release);  // the next sample chooses another
}

int host_view(int sig, const struct sigaction* act, struct sigaction* oldact) {
  LockGuard g(signal_lock);
  struct sigaction previous = host_action;
  if (sig == signo.load(std::memory_order_relaxed) && act != nullptr) host_action = *act;
  if (oldact != nullptr) *oldact = previous;
  return 0;
}

int signal_number() {
  return signo.load(std::memory_order_acquire);
}

bool loader_locks_known() {
  return write_lock_at >= 0;
}

void reset_after_fork() {
  // The handler stays installed (the child inherits it) and so does the choice of signal.
  signal_lock.reset_after_fork();
  own_pid = sys::getpid();
  slot.state.store(kIdle, std::memory_order_relaxed);
  if (slot.python_fd >= 0) sys::close(slot.python_fd);
  slot.python_fd = -1;
  // A sample of the forking thread that was in flight: its waits must not wait for it here.
  tls_state.sample_state = 0;
}

}  // namespace loopsan::sampler
