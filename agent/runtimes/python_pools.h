// The C side of python_hooks.py's patch_thread_pool: how concurrent.futures'
// ThreadPoolExecutors tell the pools' registry (core/pools.h) about their tasks.
//
// python_hooks.py gets one builtin, _loopsan_pool_install, which it calls when
// concurrent.futures.thread is imported: that compiles and runs python_pools.py (so a program
// that never imports it never pays for compiling it), with the builtins its per-task hooks call
// (METH_O / METH_FASTCALL: no argument parsing on the per-task path, GIL held). Each executor
// gets a work queue of python_pools.py's SimpleQueue subclass; the queue's address is the
// pool's key.
#pragma once

namespace loopsan::python_pools {

// Adds _loopsan_pool_install to python_hooks.py's globals (a dict). False when it could not.
bool add_builtins(void* globals);

}  // namespace loopsan::python_pools
