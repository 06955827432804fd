// Summary on fatal signals. For every signal whose default action ends the process, while the
// host leaves it at SIG_DFL, loopsan's handler is in the kernel instead: it writes the summary,
// restores SIG_DFL and lets the same signal end the process exactly as it would have (same
// signal, same core dump). The host keeps seeing its own view through sigaction()/signal():
// whatever it installs that is not SIG_DFL goes to the kernel unchanged.
#pragma once

#include <signal.h>

namespace loopsan::fatal_signals {

using SigactionFn = int (*)(int, const struct sigaction*, struct sigaction*);

// `real_sigaction` is libc's sigaction (the shim resolved it).
void install(SigactionFn real_sigaction);

// True if `sig` is one loopsan watches; the shim then routes the host's call here.
bool watched(int sig);

// The host's sigaction() for a watched signal: returns its result (0), as libc would.
int host_sigaction(int sig, const struct sigaction* act, struct sigaction* oldact);

}  // namespace loopsan::fatal_signals
