// The CPython bridge. loopsan never links libpython or includes its headers: when the host is
// CPython (an executable that exports the C API, or one linked with libpython), the functions
// are found at run time with dlsym, and every entry point degrades to "no Python" otherwise.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace loopsan::python {

struct PyFrame {
  std::string function;
  std::string file;
  int line = -1;  // -1 when CPython could not tell
  // The first frame of one call of the interpreter's eval loop from C (CPython 3.11's
  // _PyInterpreterFrame.is_entry): where a merged native + Python stack splices this frame and
  // the ones it called into the native frames, at that call's _PyEval_EvalFrameDefault.
  bool entry = false;
};

// True when the process contains a CPython whose C API we can use.
bool present();

// The calling thread runs Python code (it has a Python thread state). Its waits are the
// interpreter's: a native poll or epoll site there is shared by every Python line, so only the
// bridge (asyncio) says when such a thread runs a loop. Cheap: a TLS lookup in CPython.
bool thread_runs_python();

// True for an address inside the interpreter itself (the python executable or libpython that
// exports the C API): a wait called from there is the interpreter's own (the GIL).
bool is_interpreter_code(const void* address);

// A cheap key for where the calling thread's Python code is: the code objects and instruction
// pointers of its innermost frames, read directly from the thread's frames (no dump, no
// allocation). Two calls from the same Python lines give the same key: what a detector needs
// to count a repeat without taking the stack again.
enum class FrameKey {
  kKey,       // *key is set
  kNoPython,  // this thread runs no Python code (or there is no CPython)
  kUnknown,   // there may be Python frames, but this CPython's frame layout is not one
              // loopsan knows (3.11 only, each frame checked against PyCode_Type)
};
FrameKey frame_key(uint64_t* key);

// The native thread id of the thread that holds the GIL now, 0 when it is free or this
// CPython's layout is not one loopsan knows. CPython 3.11 only: read from _PyRuntime
// (ceval.gil.locked and .last_holder, then the holder's PyThreadState.native_thread_id), the
// way py-spy finds it; no GIL, no call into the interpreter. From any thread.
pid_t gil_holder();
// How many times the GIL has changed hands so far (ceval.gil.switch_number), -1 when unknown:
// a holder that kept it over a stretch of time is one whose count did not move.
int64_t gil_switches();
// The addresses of the GIL's two condition variables, when this CPython's layout is one
// loopsan knows (3.11): `cond`, where a thread waits to take the GIL (take_gil), and
// `switch_cond`, where the thread that just dropped it on request waits until another took it
// (drop_gil, FORCE_SWITCHING). A pthread_cond_wait/timedwait on either is time a thread spent
// waiting for the GIL. False otherwise. Callable before the interpreter is initialised (the
// addresses are static).
bool gil_conds(uintptr_t* cond, uintptr_t* switch_cond);

// The Python stack of the calling thread, innermost first. Empty when the thread runs no
// Python code, the interpreter is not initialised or is finalizing, or python_stacks=0.
//
// Safe without the GIL and in any thread state: it reads the thread's own frames through
// CPython's signal-safe _Py_DumpTraceback (the one faulthandler uses), which neither allocates
// Python objects nor takes the GIL. Taking the GIL here instead would be unsafe: a non-main
// thread that takes the GIL while the interpreter finalizes is terminated by CPython itself.
std::vector<PyFrame> capture_stack();

// The Python stacks of every thread of the interpreter, by their Python thread id (the
// pthread_t of the thread: threading.get_ident()), read holding the GIL on a helper thread
// (python_thread_dump.h), so exact. Empty when there is no initialised CPython,
// python_stacks=0, or a thread kept the GIL for 250 ms. Watchdog thread only.
using ThreadStacks = std::vector<std::pair<unsigned long, std::vector<PyFrame>>>;
ThreadStacks all_thread_stacks();

// An anonymous in-memory file for CPython's dump functions to write into (unlike a pipe it
// never fills up and blocks the writer), and its text, which closes it. -1 / empty on failure.
int open_dump_file();
std::string read_dump_file(int fd);

// Parses _Py_DumpTraceback's output (exposed for unit tests).
std::vector<PyFrame> parse_dump(const std::string& text);

}  // namespace loopsan::python
