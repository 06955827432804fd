// sigaction()/signal(). For the signals whose default action ends the process the host keeps
// its view and loopsan keeps its summary handler in the kernel while that view is SIG_DFL;
// other handlers run through a trampoline that marks the thread as in a signal handler.
// CPython installs its signal handlers during initialization: a moment when the CPython bridge
// can register its hooks (events::runtime_checkpoint).
#include <signal.h>

#include "shim/shim.h"

LOOPSAN_EXPORT int sigaction(int sig, const struct sigaction* act, struct sigaction* oldact) {
  auto real = REAL(sigaction);
  if (real == nullptr) MISSING_ERRNO;
  events::runtime_checkpoint();
  if (!events::signal_watched(sig)) return events::plain_sigaction(sig, act, oldact);
  return events::host_sigaction(sig, act, oldact);
}

LOOPSAN_EXPORT sighandler_t signal(int sig, sighandler_t handler) {
  auto real = REAL(signal);
  if (real == nullptr) return SIG_ERR;
  events::runtime_checkpoint();
  // glibc's signal() has BSD semantics: the signal is blocked in its handler, and
  // interrupted system calls restart.
  struct sigaction act {};
  act.sa_handler = handler;
  sigemptyset(&act.sa_mask);
  sigaddset(&act.sa_mask, sig);
  act.sa_flags = SA_RESTART;
  struct sigaction old {};
  int rc = events::signal_watched(sig) ? events::host_sigaction(sig, &act, &old)
                                       : events::plain_sigaction(sig, &act, &old);
  if (rc != 0) return SIG_ERR;
  return old.sa_handler;
}
