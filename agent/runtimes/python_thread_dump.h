// Every thread's Python stack, read safely from the watchdog.
//
// Reading another thread's frames is only safe while that thread cannot change them or free
// its thread state: while this side holds the GIL. The watchdog must never wait on the host,
// so a small helper thread takes the GIL (PyGILState_Ensure), runs CPython's
// _Py_DumpTracebackThreads into a memfd, and lets go; the watchdog waits for it with a timeout
// and gives up (no Python stacks in that finding) when a thread keeps the GIL.
//
// Not faulthandler's way: dump_traceback_later's thread reads the frames without the GIL, and
// under realworld's CPython suites (threads starting and exiting all the time) that walk
// crashed the host in freed thread states.
#pragma once

#include <string>

namespace loopsan::python_thread_dump {

// _Py_DumpTracebackThreads' text for every thread of the main interpreter, the helper's own
// thread state left out by the caller (its section has no frames). False, at once, when there
// is no initialised CPython with the symbols, when the interpreter is finalizing, or when an
// earlier request is still waiting for the GIL; false after `timeout_ms` when the GIL does not
// come. Watchdog thread only (one request at a time); never from a signal handler.
bool all_threads(std::string* text, int timeout_ms);

// The helper's pthread_t (the Python thread id its section is headed with), 0 before it runs.
unsigned long helper_thread_id();

// In a fork() child: the helper does not exist there; the next request starts one.
void reset_after_fork();

}  // namespace loopsan::python_thread_dump
