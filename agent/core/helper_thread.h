// loopsan's own threads (the watchdog, the Python stack reader), started one way.
//
// Each is started with the real pthread_create (no registry record, no thread-start event, no
// findings about it), detached, with every signal blocked from its first instruction, with
// its re-entrancy guard set for good (whatever it calls passes straight through the shim), and
// not counted among the process's threads. glibc ends the process with exit(0) when the last
// counted thread ends with pthread_exit (pthread_exit(3); __nptl_nthreads in nptl/
// pthread_create.c): a helper that stayed counted kept alive a process whose own threads had
// all ended (CPython's test_threading forks from a non-main thread whose child ends that way,
// and its parent then waited for it for ever).
#pragma once

namespace loopsan::helper_thread {

// Starts `run` on a new helper thread named `name` (at most 15 characters). False when the
// thread cannot be created.
bool start(void* (*run)(void*), const char* name);

}  // namespace loopsan::helper_thread
