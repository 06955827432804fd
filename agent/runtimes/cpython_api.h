// The slice of CPython's C API that loopsan calls, declared once. loopsan never links libpython
// or includes its headers: the host is CPython when it exports these symbols (a python
// executable, or a program linked with or dlopen'ing libpython), found with dlsym(RTLD_DEFAULT).
#pragma once

#include <cstdint>

namespace loopsan::cpython {

using PyObject = void;

// The layout of PyMethodDef (stable ABI) and its calling conventions, for the C functions the
// agent gives Python code (python_hooks.cc, python_pools.cc, python_pytest.cc).
struct MethodDef {
  const char* name;
  void* meth;  // a C function of the calling convention `flags` names
  int flags;
  const char* doc;
};
constexpr int kMethVarargs = 0x0001;
constexpr int kMethKeywords = 0x0002;
constexpr int kMethNoargs = 0x0004;
constexpr int kMethO = 0x0008;
constexpr int kMethFastcall = 0x0080;
// Py_CompileString's start symbols.
constexpr int kPyFileInput = 257;
constexpr int kPyEvalInput = 258;

// What a group of symbols makes possible. A Python that lacks one symbol loses that feature
// only: the report's start line says which ("hooks").
enum Feature : uint32_t {
  kStacks = 1u << 0,        // Python stacks in findings (python_bridge.cc)
  kHooks = 1u << 1,         // the audit hook that runs python_hooks.py (python_hooks.cc)
  kFrameKeys = 1u << 2,     // cheap call-site keys read from frames (python_bridge.cc)
  kThreadStacks = 1u << 3,  // every thread's Python stack (python_thread_dump.cc)
};

// LOOPSAN_CPYTHON_SYMBOL(member, features, name, fallback, type)
//   features: the Features that need the symbol; name: what dlsym looks for first; fallback:
//   the older name when the API was made public later (else nullptr); type: a function type
//   or, for data, the object's type. The table member is a pointer to `type`: what dlsym
//   returns for either. The type comes last because function types contain commas.
#define LOOPSAN_CPYTHON_API(X)                                                                     \
  X(is_initialized, kStacks | kHooks, "Py_IsInitialized", nullptr, int())                          \
  /* Public from 3.13; older versions export only the underscore name. */                          \
  X(is_finalizing, kStacks, "Py_IsFinalizing", "_Py_IsFinalizing", int())                          \
  X(this_thread_state, kStacks | kHooks, "PyGILState_GetThisThreadState", nullptr, void*())        \
  /* faulthandler's signal-safe dump: neither the GIL nor Python allocations. */                   \
  X(dump_traceback, kStacks, "_Py_DumpTraceback", nullptr, void(int fd, void* tstate))             \
  /* All threads' frames, read by python_thread_dump.cc's helper while it holds the GIL. */        \
  X(dump_traceback_threads, kThreadStacks, "_Py_DumpTracebackThreads", nullptr,                    \
    const char*(int fd, void* interp, void* current_tstate))                                       \
  X(gil_ensure, kThreadStacks, "PyGILState_Ensure", nullptr, int())                                \
  X(gil_release, kThreadStacks, "PyGILState_Release", nullptr, void(int))                          \
  X(add_audit_hook, kHooks, "PySys_AddAuditHook", nullptr,                                         \
    int(int (*)(const char*, PyObject*, void*), void*))                                            \
  X(gil_check, kHooks, "PyGILState_Check", nullptr, int())                                         \
  X(get_version, kHooks | kFrameKeys, "Py_GetVersion", nullptr, const char*())                     \
  /* Data: code objects' type, to check a frame before trusting what it points to. */              \
  X(code_type, kFrameKeys, "PyCode_Type", nullptr, char)                                           \
  X(cfunction_new, kHooks, "PyCFunction_NewEx", nullptr,                                           \
    PyObject*(void* def, PyObject* self, PyObject* module))                                        \
  X(dict_new, kHooks, "PyDict_New", nullptr, PyObject*())                                          \
  X(dict_set_item_string, kHooks, "PyDict_SetItemString", nullptr,                                 \
    int(PyObject*, const char*, PyObject*))                                                        \
  X(eval_get_builtins, kHooks, "PyEval_GetBuiltins", nullptr, PyObject*())                         \
  X(compile_string, kHooks, "Py_CompileString", nullptr, PyObject*(const char*, const char*, int)) \
  X(eval_code, kHooks, "PyEval_EvalCode", nullptr, PyObject*(PyObject*, PyObject*, PyObject*))     \
  X(err_fetch, kHooks, "PyErr_Fetch", nullptr, void(PyObject**, PyObject**, PyObject**))           \
  X(err_restore, kHooks, "PyErr_Restore", nullptr, void(PyObject*, PyObject*, PyObject*))          \
  X(err_print, kHooks, "PyErr_Print", nullptr, void())                                             \
  X(arg_parse_tuple, kHooks, "PyArg_ParseTuple", nullptr, int(PyObject*, const char*, ...))        \
  X(tuple_get_item, kHooks, "PyTuple_GetItem", nullptr, PyObject*(PyObject*, long))                \
  X(unicode_as_utf8, kHooks, "PyUnicode_AsUTF8", nullptr, const char*(PyObject*))                  \
  /* After python_hooks.py puts a checked method into a C type's dict (_asyncio.Future). */        \
  X(type_modified, kHooks, "PyType_Modified", nullptr, void(PyObject*))                            \
  /* The checked methods of python_hooks.cc (checked_call): frameless thread checks. */            \
  X(descr_new_method, kHooks, "PyDescr_NewMethod", nullptr, PyObject*(PyObject*, void*))           \
  X(vectorcall, kHooks, "PyObject_Vectorcall", nullptr,                                            \
    PyObject*(PyObject*, PyObject* const*, unsigned long, PyObject*))                              \
  X(get_attr, kHooks, "PyObject_GetAttr", nullptr, PyObject*(PyObject*, PyObject*))                \
  X(dict_get_item, kHooks, "PyDict_GetItemWithError", nullptr, PyObject*(PyObject*, PyObject*))    \
  X(long_as_unsigned_long, kHooks, "PyLong_AsUnsignedLong", nullptr, unsigned long(PyObject*))     \
  X(thread_ident, kHooks, "PyThread_get_thread_ident", nullptr, unsigned long())                   \
  X(call_function_obj_args, kHooks, "PyObject_CallFunctionObjArgs", nullptr,                       \
    PyObject*(PyObject*, ...))                                                                     \
  X(err_clear, kHooks, "PyErr_Clear", nullptr, void())                                             \
  X(tuple_size, kHooks, "PyTuple_Size", nullptr, long(PyObject*))                                  \
  /* python_hooks.py as code compiled at build time (python_hooks_code.h). */                      \
  X(magic_number, kHooks, "PyImport_GetMagicNumber", nullptr, long())                              \
  X(marshal_loads, kHooks, "PyMarshal_ReadObjectFromString", nullptr,                              \
    PyObject*(const char*, long))                                                                  \
  X(long_from_long, kHooks, "PyLong_FromLong", nullptr, PyObject*(long))                           \
  X(inc_ref, kHooks, "Py_IncRef", nullptr, void(PyObject*))                                        \
  X(dec_ref, kHooks, "Py_DecRef", nullptr, void(PyObject*))                                        \
  /* Data: the address of the None singleton is the PyObject* itself. */                           \
  X(none, kHooks, "_Py_NoneStruct", nullptr, PyObject)

template <typename T>
using Ptr = T*;

struct Api {
#define LOOPSAN_CPYTHON_MEMBER(member, features, name, fallback, ...) Ptr<__VA_ARGS__> member;
  LOOPSAN_CPYTHON_API(LOOPSAN_CPYTHON_MEMBER)
#undef LOOPSAN_CPYTHON_MEMBER
};

// Which Features the process's CPython supports, resolving the table on the first call that
// finds CPython (Py_IsInitialized) and never again after that: the symbols of an interpreter
// do not change once it is loaded. A miss is not remembered: an embedded interpreter may be
// dlopen'ed at any time. Thread-safe; calls dlsym while CPython is absent, so not for signal
// handlers. Records "cpython.stacks" in the start line once stacks are available.
uint32_t features();

// In a fork() child (core/module.h).
void reset_after_fork();

inline bool available(uint32_t wanted) {
  return (features() & wanted) == wanted;
}

namespace detail {
extern Api g_table;
}  // namespace detail

// The table. Call a member only after available() said yes for a feature that needs it (that
// is also what orders the call after the table was written). A reference to static storage,
// so usable from code that runs before static constructors.
inline constexpr const Api& api = detail::g_table;

// Each symbol's description, for tests and diagnostics.
struct SymbolInfo {
  const char* member;
  const char* name;
  const char* fallback;
  uint32_t features;
};
extern const SymbolInfo kSymbols[];
extern const int kSymbolCount;

}  // namespace loopsan::cpython
