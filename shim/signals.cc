// sigaction()/signal() for the signals whose default action ends the process: the host keeps
// its view, loopsan keeps its summary handler in the kernel while that view is SIG_DFL.
// CPython installs its signal handlers during initialization: the moment to register the
// Python hooks (python_hooks.h).
#include <signal.h>

#include "agent/core/agent.h"
#include "agent/report/fatal_signals.h"
#include "agent/runtimes/python_hooks.h"
#include "shim/interceptor.h"

namespace fatal_signals = loopsan::fatal_signals;

namespace {

bool routed(int sig) {
  return loopsan::agent::active() && fatal_signals::watched(sig) && loopsan::agent::same_process();
}

}  // namespace

LOOPSAN_EXPORT int sigaction(int sig, const struct sigaction* act, struct sigaction* oldact) {
  auto real = REAL(sigaction);
  if (real == nullptr) return loopsan::shim::missing_errno_result();
  loopsan::python_hooks::on_host_call();
  if (!routed(sig)) return real(sig, act, oldact);
  return fatal_signals::host_sigaction(sig, act, oldact);
}

LOOPSAN_EXPORT sighandler_t signal(int sig, sighandler_t handler) {
  auto real = REAL(signal);
  if (real == nullptr) return SIG_ERR;
  loopsan::python_hooks::on_host_call();
  if (!routed(sig)) return real(sig, handler);
  // glibc's signal() has BSD semantics: the signal is blocked in its handler, and
  // interrupted system calls restart.
  struct sigaction act {};
  act.sa_handler = handler;
  sigemptyset(&act.sa_mask);
  sigaddset(&act.sa_mask, sig);
  act.sa_flags = SA_RESTART;
  struct sigaction old {};
  if (fatal_signals::host_sigaction(sig, &act, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}
