// How long each thread waits for CPython's GIL, measured exactly where the interpreter waits.
//
// CPython 3.11 takes the GIL in take_gil() (Python/ceval_gil.h): while another thread holds it,
// the thread waits on the GIL's condition variable, ceval.gil.cond, with
// pthread_cond_timedwait (COND_TIMED_WAIT, 5 ms at a time: sys.getswitchinterval()). A thread
// asked to drop it waits in drop_gil() on ceval.gil.switch_cond until another thread took it
// (FORCE_SWITCHING). Both are condition waits the shim already wraps: the wrapper compares the
// condition's address with the GIL's (events::is_gil_cond, one load and one compare on its
// fast path), times the wait, and the time goes to the calling thread's counter here.
// https://github.com/python/cpython/blob/3.11/Python/ceval_gil.h
//
// What is not counted: the short pthread_mutex_lock of ceval.gil.mutex around those waits
// (microseconds, never the GIL's holder's time slice). So a thread's count is a lower bound of
// its time spent not running because of the GIL, and a tight one.
//
// The counters live in a fixed table, one slot per thread that ever waited for the GIL (claimed
// at its first wait, freed when it ends), written only by their thread and read by the watchdog
// (detectors/gil_contention.h): no allocation, no lock on the waiting thread's path.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace loopsan::gil_waits {

// At start-up: finds the GIL's condition variables (python::gil_conds) and arms the wrappers'
// check. Says in the start line's hooks whether GIL waits are measured
// ("cpython.gil_waits"): only in a CPython whose layout loopsan knows (3.11).
void init();
// True once the wrappers measure GIL waits.
bool measured();

// The calling thread waited for the GIL for `ns` (from the wrapper, through events.h).
void add(int64_t ns);

// Thread `tid`'s time spent waiting for the GIL so far, in ns; false when it never waited for
// it (or the table was full when it first did).
bool waited_ns(pid_t tid, int64_t* ns);

// Module hooks: the calling thread ends (its slot is freed); in a fork() child (only the
// forking thread is left).
void thread_exiting();
void reset_after_fork();

}  // namespace loopsan::gil_waits
