// The agent's life cycle, as the shim drives it: start-up, fork, exec and the ends of a
// process. Detectors have their own headers (blocking.h, loop_tracker.h, ...).
#pragma once

#include <signal.h>

namespace loopsan::agent {

struct RealFunctions {
  int (*sigaction)(int, const struct sigaction*, struct sigaction*) = nullptr;
  void (*underscore_exit)(int) = nullptr;
  // libstdc++'s std::set_terminate.
  void (*(*set_terminate)(void (*)()))() = nullptr;
};

// From the shim's constructor. `own_code` is any address inside the shim.
void init(int argc, char** argv, const void* own_code, const RealFunctions& real);

// False before init and when inert (set-user-ID programs: getauxval(AT_SECURE)).
extern int g_active;
inline bool active() {
  return g_active != 0;
}

// This process is the one init() ran in, or a fork()ed child we were told about. False in a
// vfork()/posix_spawn child, which shares our memory and must not touch it.
bool same_process();

void after_fork_child();
// The calling thread ends (return, pthread_exit or cancellation).
void thread_exiting();
void before_exec();
void exec_failed();

// The process is ending through exit() or a return from main (on_exit handler) or _exit().
void at_exit(int status);
// Returns the status _exit() must use (exitcode=N may replace it).
int at_underscore_exit(int status);
// From the shim's ELF destructor, before libraries go away: exit-time detectors.
void run_exit_detectors();

}  // namespace loopsan::agent
