#include "agent/report/fatal_signals.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "agent/base/errno_saver.h"
#include "agent/core/signal_handlers.h"
#include "agent/report/summary.h"
#include "agent/base/sys.h"

namespace loopsan::fatal_signals {
namespace {

constexpr int kWatched[] = {SIGSEGV, SIGBUS, SIGILL,  SIGFPE, SIGABRT, SIGTRAP, SIGSYS,
                            SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGPIPE, SIGXCPU, SIGXFSZ};

SigactionFn real = nullptr;
// What the host believes is installed, per signal.
struct sigaction host_view[NSIG];
bool watching[NSIG];

bool is_default(const struct sigaction& sa) {
  return (sa.sa_flags & SA_SIGINFO) ? sa.sa_sigaction == nullptr : sa.sa_handler == SIG_DFL;
}

void handler(int sig, siginfo_t* info, void*) {
  ErrnoSaver errno_saver;
  summary::write(sig == SIGABRT ? summary::How::kAbort : summary::How::kSignal, sig);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  real(sig, &dfl, nullptr);
  // A fault raised by an instruction recurs when we return, now with the default action (and
  // its core dump). Anything else (kill, raise, abort, int3, seccomp) is sent again; it stays
  // pending while this handler blocks it and is delivered as we return.
  bool recurs = info != nullptr && info->si_code > 0 &&
                (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE);
  if (!recurs) sys::call_with(SYS_tgkill, sys::getpid(), sys::gettid(), sig);
}

// The signals that ask a process to stop: a host handler for one of them runs through
// signal_handlers' trampoline, which notes that the process was asked to stop (thread-leak).
bool is_stop_request(int sig) {
  return sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT;
}

void install_ours(int sig) {
  struct sigaction sa {};
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  real(sig, &sa, nullptr);
}

}  // namespace

void install(SigactionFn real_sigaction) {
  real = real_sigaction;
  if (real == nullptr) return;
  for (int sig : kWatched) {
    struct sigaction cur {};
    if (real(sig, nullptr, &cur) != 0) continue;
    host_view[sig] = cur;
    watching[sig] = true;
    if (is_default(cur)) install_ours(sig);
  }
}

bool watched(int sig) {
  return sig > 0 && sig < NSIG && watching[sig];
}

int host_sigaction(int sig, const struct sigaction* act, struct sigaction* oldact) {
  struct sigaction previous = host_view[sig];
  if (act != nullptr) {
    int rc = is_default(*act)       ? (install_ours(sig), 0)
             : is_stop_request(sig) ? signal_handlers::host_sigaction(real, sig, act, nullptr)
                                    : real(sig, act, nullptr);
    if (rc != 0) return rc;
    host_view[sig] = *act;
  }
  if (oldact != nullptr) *oldact = previous;
  return 0;
}

}  // namespace loopsan::fatal_signals
