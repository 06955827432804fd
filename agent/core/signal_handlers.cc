#include "agent/core/signal_handlers.h"

#include <sys/syscall.h>

#include <atomic>

#include "agent/base/sys.h"
#include "agent/base/thread_state.h"

namespace loopsan::signal_handlers {

bool left_handlers(uintptr_t here) {
  stack_t ss{};
  if (sys::call_with(SYS_sigaltstack, nullptr, &ss) != 0 || (ss.ss_flags & SS_ONSTACK)) {
    return false;
  }
  return here > tls_state.signal_frame;
}

namespace {

// The host's handler and flags, per signal. Written before the kernel can call the trampoline
// for the signal, read by the trampoline (async-signal-safe: plain atomics).
struct HostHandler {
  std::atomic<void*> handler{nullptr};
  std::atomic<int> flags{0};
};
HostHandler handlers[NSIG];
std::atomic<bool> stop_signal{false};

void trampoline(int sig, siginfo_t* info, void* context) {
  if (sig <= 0 || sig >= NSIG) return;
  if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT) {
    stop_signal.store(true, std::memory_order_relaxed);
  }
  char frame;
  auto at = reinterpret_cast<uintptr_t>(&frame);
  ThreadState& t = tls_state;
  // A count left by a handler that jumped out, seen from higher up the stack: stale.
  if (t.in_signal > 0 && left_handlers(at)) t.in_signal = 0;
  if (t.in_signal++ == 0) t.signal_frame = at;
  void* handler = handlers[sig].handler.load(std::memory_order_acquire);
  if (handlers[sig].flags.load(std::memory_order_relaxed) & SA_SIGINFO) {
    reinterpret_cast<void (*)(int, siginfo_t*, void*)>(handler)(sig, info, context);
  } else {
    reinterpret_cast<void (*)(int)>(handler)(sig);
  }
  if (tls_state.in_signal > 0) --tls_state.in_signal;
}

bool is_function(const struct sigaction& a) {
  if (a.sa_flags & SA_SIGINFO) return a.sa_sigaction != nullptr;
  return a.sa_handler != SIG_DFL && a.sa_handler != SIG_IGN && a.sa_handler != SIG_ERR;
}

}  // namespace

int host_sigaction(RealSigaction real, int sig, const struct sigaction* act,
                   struct sigaction* oldact) {
  if (sig <= 0 || sig >= NSIG) return real(sig, act, oldact);
  void* previous = handlers[sig].handler.load(std::memory_order_acquire);
  int previous_flags = handlers[sig].flags.load(std::memory_order_relaxed);
  int rc;
  if (act != nullptr && is_function(*act)) {
    struct sigaction ours = *act;
    handlers[sig].flags.store(act->sa_flags, std::memory_order_relaxed);
    handlers[sig].handler.store((act->sa_flags & SA_SIGINFO)
                                    ? reinterpret_cast<void*>(act->sa_sigaction)
                                    : reinterpret_cast<void*>(act->sa_handler),
                                std::memory_order_release);
    ours.sa_sigaction = trampoline;
    ours.sa_flags |= SA_SIGINFO;
    rc = real(sig, &ours, oldact);
    if (rc != 0) {
      handlers[sig].flags.store(previous_flags, std::memory_order_relaxed);
      handlers[sig].handler.store(previous, std::memory_order_release);
    }
  } else {
    rc = real(sig, act, oldact);
  }
  // The host sees its own handler, never the trampoline.
  if (rc == 0 && oldact != nullptr && (oldact->sa_flags & SA_SIGINFO) &&
      oldact->sa_sigaction == trampoline && previous != nullptr) {
    oldact->sa_flags = previous_flags;
    if (previous_flags & SA_SIGINFO) {
      oldact->sa_sigaction = reinterpret_cast<void (*)(int, siginfo_t*, void*)>(previous);
    } else {
      oldact->sa_flags &= ~SA_SIGINFO;
      oldact->sa_handler = reinterpret_cast<void (*)(int)>(previous);
    }
  }
  return rc;
}

bool stop_requested() {
  return stop_signal.load(std::memory_order_relaxed);
}

}  // namespace loopsan::signal_handlers
