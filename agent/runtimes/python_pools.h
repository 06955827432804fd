// The C side of python_hooks.py's patch_thread_pool: how concurrent.futures'
// ThreadPoolExecutors tell the pools' registry (core/pools.h) about their tasks.
//
// python_hooks.py gives each executor a work queue of its own SimpleQueue subclass; its put()
// and get() call these builtins (METH_O / METH_FASTCALL: no argument parsing on the per-task
// path), with the GIL held. The queue's address is the pool's key.
#pragma once

namespace loopsan::python_pools {

// Adds the builtins to python_hooks.py's globals (a dict). False when one could not be made.
bool add_builtins(void* globals);

}  // namespace loopsan::python_pools
