// Start-up and the end of the process: the constructor starts the agent; on_exit() gives the
// summary the exit status; the destructor runs exit-time checks while the libraries they need
// are still there.
#include <stdlib.h>

#include "shim/shim.h"

namespace {

void on_exit_handler(int status, void*) {
  events::process_exiting(status);
}

// glibc passes argc/argv/envp to ELF constructors.
__attribute__((constructor)) void loopsan_start(int argc, char** argv, char**) {
  events::process_started(argc, argv, reinterpret_cast<const void*>(&loopsan_start));
  // Registered before __libc_start_main registers the loader's fini, so it runs after every
  // other exit handler and destructor: the summary sees the final state and the exit status.
  if (events::active()) on_exit(on_exit_handler, nullptr);
}

__attribute__((destructor)) void loopsan_stop() {
  events::process_exit_checks();
}

}  // namespace
