// Python-level detection inside CPython (unretrieved exceptions of concurrent.futures and
// asyncio futures), installed without touching the program, its files or its environment.
//
// From the library constructor, before the interpreter starts, loopsan registers a C audit
// hook (PySys_AddAuditHook, documented as callable before Py_Initialize). At the first
// "cpython.run_*" event (the interpreter is ready, the program's code is about to run), or
// at the first import of concurrent.futures/asyncio in an embedded interpreter, the hook runs
// python_hooks.py once, with the GIL held, in the main thread. The audit hook then does nothing
// but return. This replaces the Py_AddPendingCall route: a pending call runs at an arbitrary
// bytecode boundary, possibly in the middle of an import, and needs a thread to schedule it.
#pragma once

namespace loopsan::python_hooks {

// From the agent's start-up. Does nothing outside CPython or with python_stacks=0.
void install_early();

}  // namespace loopsan::python_hooks
