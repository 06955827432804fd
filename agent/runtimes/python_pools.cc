#include "agent/runtimes/python_pools.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "agent/base/errno_saver.h"
#include "agent/base/sys.h"
#include "agent/base/thread_state.h"
#include "agent/core/pools.h"
#include "agent/runtimes/cpython_api.h"
#include "agent/runtimes/python_hooks.h"
#include "agent/stacks/stack.h"

namespace loopsan::python_pools {
namespace {

using cpython::api;
using cpython::PyObject;

// PyMethodDef (stable ABI) and its calling conventions.
struct MethodDef {
  const char* name;
  void* meth;
  int flags;
  const char* doc;
};
constexpr int kMethVarargs = 0x0001;
constexpr int kMethO = 0x0008;
constexpr int kMethFastcall = 0x0080;

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

// _loopsan_pool_queued(queue): a task goes into the queue. Returns the queue itself (true) when
// the task will wait, None otherwise: no int or bool to build on the per-task path.
PyObject* pool_queued(PyObject*, PyObject* queue) {
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  bool waits = pools::task_queued(key_of(queue), 0, sys::monotonic_ns());
  PyObject* result = waits ? queue : api.none;
  api.inc_ref(result);
  return result;
}

// _loopsan_pool_waiting(queue, via, task, frames): the details of the task just queued, which
// will wait; frames may be empty (python_hooks.py keeps the first few of a saturated stretch).
PyObject* pool_waiting(PyObject*, PyObject* args) {
  PyObject* queue = nullptr;
  const char* via = nullptr;
  const char* task = nullptr;
  const char* frames = nullptr;
  if (!api.arg_parse_tuple(args, "Osss", &queue, &via, &task, &frames)) return nullptr;
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  pools::Submission s;
  s.task = task;
  s.via = via;
  s.batch = strcmp(via, "map") == 0;
  s.submitter = registry::current_thread_info();
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
    {"_loopsan_pool_queued", reinterpret_cast<void*>(pool_queued), kMethO, nullptr},
    {"_loopsan_pool_waiting", reinterpret_cast<void*>(pool_waiting), kMethVarargs, nullptr},
    {"_loopsan_pool_dropped", reinterpret_cast<void*>(pool_dropped), kMethO, nullptr},
    {"_loopsan_pool_idle", reinterpret_cast<void*>(pool_idle), kMethO, nullptr},
    {"_loopsan_pool_started", reinterpret_cast<void*>(pool_started), kMethFastcall, nullptr},
};

}  // namespace

bool add_builtins(void* globals) {
  for (MethodDef& d : defs) {
    PyObject* fn = api.cfunction_new(&d, nullptr, nullptr);
    if (fn == nullptr) return false;
    int rc = api.dict_set_item_string(globals, d.name, fn);
    api.dec_ref(fn);
    if (rc != 0) return false;
  }
  return true;
}

}  // namespace loopsan::python_pools
