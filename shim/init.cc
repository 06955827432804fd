// Start-up and the end of the process: the constructor resolves every hook and starts the
// agent; on_exit() gives the summary the exit status; the destructor runs exit-time checks
// while the libraries they need are still there.
#include <stdlib.h>
#include <unistd.h>

#include "agent/core/agent.h"
#include "shim/interceptor.h"

// Declared for REAL(); defined in cxx.cc.
extern "C" void (*_ZSt13set_terminatePFvvE(void (*)()))();

namespace {

void on_exit_handler(int status, void*) {
  loopsan::agent::at_exit(status);
}

// glibc passes argc/argv/envp to ELF constructors.
__attribute__((constructor)) void loopsan_start(int argc, char** argv, char**) {
  loopsan::shim::resolve_all_hooks();
  loopsan::agent::RealFunctions real;
  real.sigaction = REAL(sigaction);
  real.underscore_exit = REAL(_exit);
  real.set_terminate = REAL(_ZSt13set_terminatePFvvE);
  loopsan::agent::init(argc, argv, reinterpret_cast<const void*>(&loopsan_start), real);
  // Registered before __libc_start_main registers the loader's fini, so it runs after every
  // other exit handler and destructor: the summary sees the final state and the exit status.
  if (loopsan::agent::active()) on_exit(on_exit_handler, nullptr);
}

__attribute__((destructor)) void loopsan_stop() {
  loopsan::agent::run_exit_detectors();
}

}  // namespace
