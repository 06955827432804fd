#include "agent/runtimes/python_pytest.h"

#include "agent/base/errno_saver.h"
#include "agent/base/thread_state.h"
#include "agent/runtimes/cpython_api.h"
#include "agent/runtimes/python_hooks.h"
#include "pytest_plugin_code.h"    // kPytestPluginCode, compiled from tools/python/loopsan.py
#include "pytest_plugin_source.h"  // kPytestPluginSource, generated from tools/python/loopsan.py

namespace loopsan::python_pytest {
namespace {

using cpython::api;
using cpython::PyObject;

using cpython::kMethNoargs;
using cpython::kPyEvalInput;
using cpython::MethodDef;

// _loopsan_pytest_plugin(): the plugin module's code, or an error (the import then fails).
PyObject* plugin_code(PyObject*, PyObject*) {
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  return python_hooks::load_code(
      {kPytestPluginSource, kPytestPluginCode, kPytestPluginCode_size, kPytestPluginCode_magic});
}

// _loopsan_version(): the shim's version, for the distribution's metadata. Made from a literal
// with the one string-making function the CPython table already has (no new symbol to find).
PyObject* version(PyObject*, PyObject*) {
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  PyObject* code = api.compile_string("'" LOOPSAN_VERSION "'", "<loopsan>", kPyEvalInput);
  if (code == nullptr) return nullptr;
  PyObject* globals = api.dict_new();
  PyObject* result = nullptr;
  if (globals != nullptr) {
    result = api.eval_code(code, globals, globals);
    api.dec_ref(globals);
  }
  api.dec_ref(code);
  return result;
}

MethodDef defs[] = {
    {"_loopsan_pytest_plugin", reinterpret_cast<void*>(plugin_code), kMethNoargs,
     "loopsan: the pytest plugin's code (internal)"},
    {"_loopsan_version", reinterpret_cast<void*>(version), kMethNoargs,
     "loopsan: the shim's version (internal)"},
};

}  // namespace

bool add_builtins(void* globals) {
  for (MethodDef& def : defs) {
    PyObject* fn = api.cfunction_new(&def, nullptr, nullptr);
    if (fn == nullptr) return false;
    int rc = api.dict_set_item_string(globals, def.name, fn);
    api.dec_ref(fn);
    if (rc != 0) return false;
  }
  return true;
}

}  // namespace loopsan::python_pytest
