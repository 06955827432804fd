#include "agent/runtimes/python_pools.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "agent/base/errno_saver.h"
#include "agent/base/log.h"
#include "agent/base/options.h"
#include "agent/base/sys.h"
#include "agent/base/thread_state.h"
#include "agent/core/pools.h"
#include "agent/core/process_info.h"
#include "agent/runtimes/cpython_api.h"
#include "agent/runtimes/python_hooks.h"
#include "agent/stacks/stack.h"
#include "python_pools_code.h"    // kPythonPoolsCode, compiled from python_pools.py
#include "python_pools_source.h"  // kPythonPoolsSource, generated from python_pools.py

namespace loopsan::python_pools {
namespace {

using cpython::api;
using cpython::PyObject;

using cpython::kMethFastcall;
using cpython::kMethO;
using cpython::kMethVarargs;
using cpython::kPyFileInput;
using cpython::MethodDef;

PyObject* none() {
  api.inc_ref(api.none);
  return api.none;
}

uintptr_t key_of(PyObject* queue) {
  return reinterpret_cast<uintptr_t>(queue);
}

// _loopsan_pool_new(queue, name, max_workers): an executor's first task; its queue is its key.
PyObject* pool_new(PyObject*, PyObject* args) {
  PyObject* queue = nullptr;
  const char* name = nullptr;
  int max_workers = 0;
  if (!api.arg_parse_tuple(args, "Osi", &queue, &name, &max_workers)) return nullptr;
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  pools::pool_created(key_of(queue), pools::PoolKind::kPythonExecutor, name, max_workers);
  return none();
}

// _loopsan_pool_gone(queue): the executor was collected.
PyObject* pool_gone(PyObject*, PyObject* queue) {
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  pools::pool_destroyed(key_of(queue));
  return none();
}

// _loopsan_pool_queued(queue, item): a task goes into the queue. Returns None when a worker
// takes it at once; when it will wait, the queue itself if its stacks are wanted
// (pools::wants_submission), else the item: no int or tuple to build on the per-task path.
PyObject* pool_queued(PyObject*, PyObject* const* args, long nargs) {
  if (nargs != 2) return none();
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  uintptr_t key = key_of(args[0]);
  PyObject* result = api.none;
  if (pools::task_queued(key, 0, sys::monotonic_ns())) {
    result = pools::wants_submission(key) ? args[0] : args[1];
  }
  api.inc_ref(result);
  return result;
}

// _loopsan_pool_waiting(queue, via, task, frames): the details of the task just queued, which
// will wait; frames are empty when pool_queued did not want them.
PyObject* pool_waiting(PyObject*, PyObject* args) {
  PyObject* queue = nullptr;
  const char* via = nullptr;
  const char* task = nullptr;
  const char* frames = nullptr;
  int same_site = 0;
  if (!api.arg_parse_tuple(args, "Osss|i", &queue, &via, &task, &frames, &same_site)) {
    return nullptr;
  }
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  pools::Submission s;
  s.task = task;
  s.via = via;
  s.submitter = registry::current_thread_info();
  // A batch queues by design: Executor.map, or submit() called again and again by one frame
  // (a loop or comprehension, then as_completed/wait), unless that frame runs on an event
  // loop, whose coroutines all wait meanwhile.
  s.batch = strcmp(via, "map") == 0 || (same_site != 0 && s.submitter.role != ThreadRole::kLoop);
  if (frames[0] != '\0') {
    s.python_stack = python_hooks::parse_frames(frames);
    s.stack = capture_stack();
  }
  pools::task_submission(key_of(queue), 0, std::move(s));
  return none();
}

// _loopsan_pool_dropped(queue): get_nowait() took a task that will not run (shutdown's drain).
PyObject* pool_dropped(PyObject*, PyObject* queue) {
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  pools::task_dropped(key_of(queue), 0);
  return none();
}

// _loopsan_pool_idle(queue): a worker comes back to the queue for its next task.
PyObject* pool_idle(PyObject*, PyObject* queue) {
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  pools::task_finished(key_of(queue), 0);
  return none();
}

// _loopsan_pool_started(queue, task_name): a worker took a task from the queue.
PyObject* pool_started(PyObject*, PyObject* const* args, long nargs) {
  if (nargs != 2) return none();
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  const char* name = api.unicode_as_utf8(args[1]);
  if (name == nullptr) {
    PyObject *t = nullptr, *v = nullptr, *tb = nullptr;
    api.err_fetch(&t, &v, &tb);  // not a str: no name, and no error left behind
    if (t != nullptr) api.dec_ref(t);
    if (v != nullptr) api.dec_ref(v);
    if (tb != nullptr) api.dec_ref(tb);
    name = "";
  }
  pools::task_started(key_of(args[0]), 0, name, sys::monotonic_ns());
  return none();
}

MethodDef defs[] = {
    {"_loopsan_pool_new", reinterpret_cast<void*>(pool_new), kMethVarargs, nullptr},
    {"_loopsan_pool_gone", reinterpret_cast<void*>(pool_gone), kMethO, nullptr},
    {"_loopsan_pool_queued", reinterpret_cast<void*>(pool_queued), kMethFastcall, nullptr},
    {"_loopsan_pool_waiting", reinterpret_cast<void*>(pool_waiting), kMethVarargs, nullptr},
    {"_loopsan_pool_dropped", reinterpret_cast<void*>(pool_dropped), kMethO, nullptr},
    {"_loopsan_pool_idle", reinterpret_cast<void*>(pool_idle), kMethO, nullptr},
    {"_loopsan_pool_started", reinterpret_cast<void*>(pool_started), kMethFastcall, nullptr},
};

// Sets `name` to a new builtin of `def` in `globals`.
bool add_function(PyObject* globals, MethodDef* def) {
  PyObject* fn = api.cfunction_new(def, nullptr, nullptr);
  if (fn == nullptr) return false;
  int rc = api.dict_set_item_string(globals, def->name, fn);
  api.dec_ref(fn);
  return rc == 0;
}

// _loopsan_pool_install(thread_module, clean, frames_text): python_hooks.py saw
// concurrent.futures.thread imported; runs python_pools.py on it, once per module.
PyObject* pool_install(PyObject*, PyObject* args) {
  PyObject* thread = nullptr;
  PyObject* clean = nullptr;
  PyObject* frames_text = nullptr;
  if (!api.arg_parse_tuple(args, "OOO", &thread, &clean, &frames_text)) return nullptr;
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  bool ok = false;
  PyObject* globals = api.dict_new();
  if (globals != nullptr &&
      api.dict_set_item_string(globals, "__builtins__", api.eval_get_builtins()) == 0 &&
      api.dict_set_item_string(globals, "__name__", api.none) == 0 &&
      api.dict_set_item_string(globals, "_loopsan_thread", thread) == 0 &&
      api.dict_set_item_string(globals, "_loopsan_clean", clean) == 0 &&
      api.dict_set_item_string(globals, "_loopsan_frames_text", frames_text) == 0) {
    ok = true;
    for (MethodDef& d : defs) ok = ok && add_function(globals, &d);
  }
  if (ok) {
    ok = false;
    PyObject* code = python_hooks::load_code(
        {kPythonPoolsSource, kPythonPoolsCode, kPythonPoolsCode_size, kPythonPoolsCode_magic});
    if (code != nullptr) {
      PyObject* result = api.eval_code(code, globals, globals);
      ok = result != nullptr;
      if (result != nullptr) api.dec_ref(result);
      api.dec_ref(code);
    }
  }
  if (!ok) python_hooks::drop_error("the thread-pool hooks");
  if (globals != nullptr) api.dec_ref(globals);
  process_info::set_hook("cpython.thread_pools", ok);
  return none();
}

MethodDef install_def = {"_loopsan_pool_install", reinterpret_cast<void*>(pool_install),
                         kMethVarargs, nullptr};

}  // namespace

bool add_builtins(void* globals) {
  return add_function(globals, &install_def);
}

}  // namespace loopsan::python_pools
