// Python-level detection inside CPython (unretrieved exceptions of concurrent.futures and
// asyncio futures), installed without touching the program, its files or its environment.
//
// loopsan registers a C audit hook (PySys_AddAuditHook). At the first "cpython.run_*" event
// (the interpreter is ready, the program's code is about to run), or at the first import of
// concurrent.futures/asyncio in an embedded interpreter, the hook runs python_hooks.py once,
// with the GIL held, in the main thread; from then on it only returns. This replaces the
// Py_AddPendingCall route: a pending call runs at an arbitrary bytecode boundary, possibly in
// the middle of an import, and needs a thread to schedule it.
//
// When to register: not from the library constructor, although the documentation allows it.
// CPython allocates the hook's entry with PyMem_RawMalloc and frees it at finalization; with
// -X dev or PYTHONMALLOC=debug the allocator changes in between, and the free crashes the
// process at exit (found with test_asyncio under loopsan: "Debug memory block ... API '!'").
// Registration waits for a call the shim sees on a thread that holds the GIL after the
// interpreter set up its allocators: CPython installs its signal handlers during
// initialization (sigaction), and an embedded interpreter that installs none starts threads
// or signal handlers before it needs futures. If the interpreter is already running by then,
// python_hooks.py is installed at once.
#pragma once

#include <atomic>
#include <vector>

#include "agent/runtimes/python_bridge.h"

namespace loopsan::python_hooks {

// From the agent's start-up: finds CPython. Does nothing outside CPython or with
// python_stacks=0.
void init();

// From events::runtime_checkpoint (the shim's sigaction/signal/pthread_create wrappers), while
// init() has left events::g_runtime_waiting set: registers the hooks if this thread can.
void register_now();

// python_hooks.py's frames text (function \x1f file \x1f line, records separated by \x1e),
// innermost first.
std::vector<python::PyFrame> parse_frames(const char* text);

// Python source embedded in the shim, and the code object the build compiled it to
// (tools/cmake/marshal_python.py): an interpreter whose bytecode magic is the build's loads
// that, any other compiles `source` (as "<loopsan>"). A new reference, or null with the
// error set.
struct EmbeddedPython {
  const char* source;
  const unsigned char* code;
  unsigned long code_size;
  long magic;
};
void* load_code(const EmbeddedPython& python);

// Installing `what` failed with a Python error set: says so at verbosity >= 1, then clears it
// (the program never sees our errors).
void drop_error(const char* what);

}  // namespace loopsan::python_hooks
