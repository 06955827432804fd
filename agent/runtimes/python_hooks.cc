#include "agent/runtimes/python_hooks.h"

#include <array>
#include <atomic>
#include <utility>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "agent/base/errno_saver.h"
#include "agent/base/json.h"
#include "agent/events.h"
#include "agent/base/log.h"
#include "agent/detectors/asyncio_threads.h"
#include "agent/detectors/exception_finding.h"
#include "agent/detectors/thread_leak.h"
#include "agent/base/options.h"
#include "agent/core/process_info.h"
#include "agent/runtimes/cpython_api.h"
#include "agent/runtimes/python_bridge.h"
#include "agent/runtimes/python_pools.h"
#include "agent/runtimes/python_pytest.h"
#include "agent/stacks/stack.h"
#include "agent/base/text.h"
#include "agent/base/thread_state.h"
#include "python_hooks_code.h"    // kPythonHooksCode, compiled from python_hooks.py
#include "python_hooks_source.h"  // kPythonHooksSource, generated from python_hooks.py

namespace loopsan::python_hooks {

namespace {

using cpython::PyObject;
// Under the name report() and the other entry points have always used.
using cpython::api;

using cpython::kMethFastcall;
using cpython::kMethKeywords;
using cpython::kMethVarargs;
using cpython::kPyFileInput;
using cpython::MethodDef;

std::atomic<int> done{0};  // 0: waiting for the moment, 1: installed (or gave up)

// "3.11.7 (main, ...)" -> 311
int version_number() {
  const char* v = api.get_version();
  int major = atoi(v);
  const char* dot = strchr(v, '.');
  int minor = dot != nullptr ? atoi(dot + 1) : 0;
  return major * 100 + minor;
}

// python_hooks.py's text: records separated by `record_separator`, each of three fields
// separated by `field_separator` (the third takes the rest of the record). Records without
// three fields are skipped.
struct Record {
  std::string first, second, rest;
};
std::vector<Record> split_records(const char* text, char record_separator, char field_separator) {
  std::vector<Record> records;
  std::string all = text;
  size_t start = 0;
  while (start < all.size()) {
    size_t end = all.find(record_separator, start);
    if (end == std::string::npos) end = all.size();
    std::string record = all.substr(start, end - start);
    size_t a = record.find(field_separator);
    size_t b = a == std::string::npos ? a : record.find(field_separator, a + 1);
    if (b != std::string::npos) {
      records.push_back(
          {record.substr(0, a), record.substr(a + 1, b - a - 1), record.substr(b + 1)});
    }
    start = end + 1;
  }
  return records;
}

}  // namespace

// Frames: function \x1f file \x1f line, separated by \x1e.
std::vector<python::PyFrame> parse_frames(const char* text) {
  std::vector<python::PyFrame> frames;
  for (Record& r : split_records(text, '\x1e', '\x1f')) {
    python::PyFrame f;
    f.function = std::move(r.first);
    f.file = std::move(r.second);
    f.line = atoi(r.rest.c_str());
    frames.push_back(std::move(f));
  }
  return frames;
}

namespace {

// The calling thread's Python stack without the machinery that called us: python_hooks.py's
// own frames and the weakref.finalize call that runs them.
std::vector<python::PyFrame> callers_python_stack() {
  std::vector<python::PyFrame> all = python::capture_stack();
  std::vector<python::PyFrame> visible;
  bool leading = true, dropped_entry = false;
  for (auto& fr : all) {
    bool machinery =
        fr.file == "<loopsan>" ||
        (fr.file.size() >= 11 && fr.file.compare(fr.file.size() - 11, 11, "/weakref.py") == 0);
    if (leading && machinery) {
      dropped_entry |= fr.entry;
      continue;
    }
    leading = false;
    visible.push_back(std::move(fr));
  }
  // The native stack still holds the eval loops of the frames left out: the marks would
  // splice the rest into the wrong ones (python_bridge.h, PyFrame::entry).
  if (dropped_entry) {
    for (auto& fr : visible) fr.entry = false;
  }
  return visible;
}

PyObject* none() {
  api.inc_ref(api.none);
  return api.none;
}

// _loopsan_report(origin, type, what, throw_frames, when) -- called by python_hooks.py with
// the GIL held.
PyObject* report(PyObject*, PyObject* args) {
  const char* origin = nullptr;
  const char* type = nullptr;
  const char* what = nullptr;
  const char* throw_text = nullptr;
  const char* when = nullptr;
  if (!api.arg_parse_tuple(args, "sssss", &origin, &type, &what, &throw_text, &when)) {
    return nullptr;
  }
  {
    ErrnoSaver errno_saver;
    ReentryGuard guard;
    bool at_exit = strcmp(when, "exit") == 0;
    bool is_asyncio = strcmp(origin, "asyncio") == 0;
    ExceptionFinding f(Kind::kUnretrievedException, type, what);
    if (is_asyncio) {
      f.message(cat(" ended an asyncio task or future that was never awaited or ",
                    "asked for its exception: the exception was lost"));
    } else {
      f.message(
          cat(" stored in a concurrent.futures Future was never retrieved: ",
              at_exit ? "the Future was still alive at exit" : "the Future was garbage-collected",
              " and neither result() nor exception() ever returned it"));
    }
    f.field("origin", json_quote(origin));
    f.field("at_exit", at_exit ? "true" : "false");
    f.dropped_at(capture_stack());
    std::vector<python::PyFrame> visible = callers_python_stack();
    // Raised in Python: the native throw stack stays unknown (0).
    f.thrown_in_python(parse_frames(throw_text));
    f.python_stack(std::move(visible));
    f.submit();
  }
  api.inc_ref(api.none);
  return api.none;
}

MethodDef report_def = {"_loopsan_report", reinterpret_cast<void*>(report), kMethVarargs,
                        "loopsan: report a lost exception (internal)"};

// _loopsan_loop_running(flag) -- asyncio started (1) or stopped (0) its loop on this thread.
PyObject* loop_running(PyObject*, PyObject* args) {
  int running = 0;
  if (!api.arg_parse_tuple(args, "p", &running)) return nullptr;
  events::runtime_loop_running(running != 0);
  api.inc_ref(api.none);
  return api.none;
}

MethodDef loop_running_def = {"_loopsan_loop_running", reinterpret_cast<void*>(loop_running),
                              kMethVarargs, "loopsan: an asyncio loop starts or stops (internal)"};

// _loopsan_thread_leak(created_frames, threads) -- non-daemon threads alive as the interpreter
// begins to wait for them, started at one place; threads: (name, native_id, ident) records.
PyObject* thread_leak(PyObject*, PyObject* args) {
  const char* created = nullptr;
  const char* threads = nullptr;
  if (!api.arg_parse_tuple(args, "ss", &created, &threads)) return nullptr;
  {
    ErrnoSaver errno_saver;
    ReentryGuard guard;
    std::vector<thread_leak::PythonThread> alive;
    for (Record& r : split_records(threads, '\x1d', '\x1c')) {
      thread_leak::PythonThread t;
      t.name = std::move(r.first);
      t.native_id = atol(r.second.c_str());
      t.ident = strtoul(r.rest.c_str(), nullptr, 10);
      alive.push_back(std::move(t));
    }
    thread_leak::python_shutdown_began(parse_frames(created), std::move(alive));
  }
  api.inc_ref(api.none);
  return api.none;
}

MethodDef thread_leak_def = {"_loopsan_thread_leak", reinterpret_cast<void*>(thread_leak),
                             kMethVarargs,
                             "loopsan: non-daemon threads still running at shutdown (internal)"};

// _loopsan_cross_thread(call, alternative, loop_tid, loop_thread_name, thread_name) --
// python_hooks.py saw a method that is not thread-safe called on this thread (Python's name
// for it: thread_name) while its loop runs on thread loop_tid.
PyObject* cross_thread(PyObject*, PyObject* args) {
  asyncio_threads::CrossThreadCall what;
  const char *call = nullptr, *alternative = nullptr, *loop_name = nullptr, *name = nullptr;
  if (!api.arg_parse_tuple(args, "ssiss", &call, &alternative, &what.loop_tid, &loop_name, &name)) {
    return nullptr;
  }
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  what.call = call;
  what.alternative = alternative;
  what.loop_thread_name = loop_name;
  what.thread_name = name;
  asyncio_threads::cross_thread_call(what, callers_python_stack());
  return none();
}

MethodDef cross_thread_def = {"_loopsan_cross_thread", reinterpret_cast<void*>(cross_thread),
                              kMethVarargs,
                              "loopsan: an asyncio object used from a foreign thread (internal)"};

// _loopsan_loop_on_pool(pool, max_workers, pool_loops, thread_loops, thread_name) -- a loop
// starts on this thread, a pool worker (pool non-empty) or a thread that ran other loops.
PyObject* loop_on_pool(PyObject*, PyObject* args) {
  const char *pool = nullptr, *name = nullptr;
  asyncio_threads::PoolLoop what;
  if (!api.arg_parse_tuple(args, "siiis", &pool, &what.max_workers, &what.pool_loops,
                           &what.thread_loops, &name)) {
    return nullptr;
  }
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  what.pool = pool;
  what.thread_name = name;
  asyncio_threads::loop_on_pool_thread(what, callers_python_stack());
  return none();
}

MethodDef loop_on_pool_def = {"_loopsan_loop_on_pool", reinterpret_cast<void*>(loop_on_pool),
                              kMethVarargs, "loopsan: a loop started on a pool thread (internal)"};

// _loopsan_abandoned(type, what, thrown_frames, created_frames, coroutine, futures, waiters,
// waiting) -- futures of run_coroutine_threadsafe that can never complete.
PyObject* abandoned(PyObject*, PyObject* args) {
  const char *type = nullptr, *what_text = nullptr, *thrown = nullptr, *created = nullptr,
             *coroutine = nullptr;
  int futures = 0, waiters = 0, waiting = 0;
  if (!api.arg_parse_tuple(args, "sssssiii", &type, &what_text, &thrown, &created, &coroutine,
                           &futures, &waiters, &waiting)) {
    return nullptr;
  }
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  asyncio_threads::Abandoned what;
  what.exception_type = type;
  what.exception_what = what_text;
  what.thrown = parse_frames(thrown);
  what.created = parse_frames(created);
  what.coroutine = coroutine;
  what.futures = futures;
  what.waiters = waiters;
  what.waiting = waiting != 0;
  asyncio_threads::abandoned_future(what, callers_python_stack());
  return none();
}

MethodDef abandoned_def = {"_loopsan_abandoned", reinterpret_cast<void*>(abandoned), kMethVarargs,
                           "loopsan: futures that can never complete (internal)"};

// Methods that must run on their loop's thread, checked without a Python frame of their own
// (nothing changes in the program's tracebacks) and at the cost of a C call: python_hooks.py
// builds one with _loopsan_checked_method(cls, real, name, loop_attribute, running_loops,
// foreign) and puts it in cls where `real` was. It is a method descriptor of cls (so that
// calls bind no method object), whose C function checks, then calls real(self, ...) with the
// caller's own argument array. The check: when `loop` (self, or self.<loop_attribute> when
// that is not None) runs on another thread (running_loops maps each running loop to its
// thread's ident), foreign(loop, name) reports it.
//
// A method descriptor's function gets no data of its own: each checked method is one slot of
// a fixed table, with a function of its own that knows its slot.
struct CheckedSlot {
  PyObject* real;
  PyObject* name;
  PyObject* loop_attribute;
  PyObject* running_loops;
  PyObject* foreign;
};
constexpr int kCheckedSlots = 64;  // python_hooks.py checks about 25 methods
CheckedSlot checked_slots[kCheckedSlots];
int checked_slots_used = 0;  // written with the GIL held

// The loop `object` belongs to, a new reference, or null.
PyObject* loop_of(const CheckedSlot& slot, PyObject* object) {
  if (slot.loop_attribute == api.none) {
    api.inc_ref(object);
    return object;
  }
  PyObject* loop = api.get_attr(object, slot.loop_attribute);
  if (loop == nullptr) {
    api.err_clear();  // not ours to report: the real method says what is wrong, if anything
    return nullptr;
  }
  // A queue, event or condition no coroutine has waited on yet is bound to no loop (3.10+ binds
  // them lazily): None, in no running loop's entry, so not checked. Guessing "the one running
  // loop" would accuse a thread that fills a queue for the loop it is about to start.
  return loop;
}

PyObject* checked_call(const CheckedSlot& slot, PyObject* self, PyObject* const* args, long nargs,
                       PyObject* kwnames) {
  PyObject* loop = loop_of(slot, self);
  if (loop != nullptr) {
    PyObject* ident = api.dict_get_item(slot.running_loops, loop);
    bool failed = false;
    if (ident != nullptr && api.long_as_unsigned_long(ident) != api.thread_ident()) {
      PyObject* done = api.call_function_obj_args(slot.foreign, loop, slot.name, nullptr);
      // foreign() keeps its own errors: what comes out is the program's (a KeyboardInterrupt
      // raised by a signal handler meanwhile), raised here as it would have been at the call.
      failed = done == nullptr;
      if (done != nullptr) api.dec_ref(done);
    } else if (ident == nullptr) {
      api.err_clear();  // an unhashable loop: not checked
    }
    api.dec_ref(loop);
    if (failed) return nullptr;
  }
  // real(self, *args, **kwargs), with the caller's arguments. (Never the caller's array from
  // args[-1]: a call with no arguments from C passes no array at all.)
  long total = nargs + (kwnames != nullptr ? api.tuple_size(kwnames) : 0);
  PyObject* small[8];
  std::vector<PyObject*> large;
  PyObject** stack = small;
  if (total + 1 > 8) {
    large.resize(total + 1);
    stack = large.data();
  }
  stack[0] = self;
  for (long i = 0; i < total; ++i) stack[i + 1] = args[i];
  return api.vectorcall(slot.real, stack, nargs + 1, kwnames);
}

template <int kSlot>
PyObject* checked_slot(PyObject* self, PyObject* const* args, long nargs, PyObject* kwnames) {
  return checked_call(checked_slots[kSlot], self, args, nargs, kwnames);
}

using FastcallFunction = PyObject* (*)(PyObject*, PyObject* const*, long, PyObject*);
template <size_t... kSlot>
constexpr std::array<FastcallFunction, sizeof...(kSlot)> checked_functions(
    std::index_sequence<kSlot...>) {
  return {&checked_slot<kSlot>...};
}
constexpr auto kCheckedFunctions = checked_functions(std::make_index_sequence<kCheckedSlots>());
MethodDef checked_defs[kCheckedSlots];

// _loopsan_checked_method(cls, real, name, loop_attribute, running_loops, foreign,
//                         method_name, doc): method_name and doc (the real method's, with its
// text signature first) are what introspection, pickling and mock's autospec see.
PyObject* checked_method(PyObject*, PyObject* args) {
  PyObject *cls = nullptr, *real = nullptr, *method_name = nullptr, *doc = nullptr;
  CheckedSlot slot{};
  if (!api.arg_parse_tuple(args, "OOOOOOUU", &cls, &real, &slot.name, &slot.loop_attribute,
                           &slot.running_loops, &slot.foreign, &method_name, &doc)) {
    return nullptr;
  }
  const char* method_name_text = api.unicode_as_utf8(method_name);
  const char* doc_text = api.unicode_as_utf8(doc);
  if (method_name_text == nullptr || doc_text == nullptr) return nullptr;
  if (checked_slots_used == kCheckedSlots) {
    api.inc_ref(real);  // out of slots: the method stays unchecked
    return real;
  }
  slot.real = real;
  for (PyObject* o : {slot.real, slot.name, slot.loop_attribute, slot.running_loops, slot.foreign,
                      method_name, doc}) {
    api.inc_ref(o);  // for good: the method lives as long as its class (and the texts with it)
  }
  int i = checked_slots_used++;
  checked_slots[i] = slot;
  checked_defs[i] = {method_name_text, reinterpret_cast<void*>(kCheckedFunctions[i]),
                     kMethFastcall | kMethKeywords, doc_text};
  return api.descr_new_method(cls, &checked_defs[i]);
}

MethodDef checked_method_def = {"_loopsan_checked_method", reinterpret_cast<void*>(checked_method),
                                kMethVarargs, "loopsan: a thread-checked method (internal)"};

// _loopsan_type_modified(type) -- PyType_Modified, after python_hooks.py changed the dict of an
// immutable type.
PyObject* type_modified(PyObject*, PyObject* args) {
  PyObject* type = api.tuple_get_item(args, 0);
  if (type == nullptr) return nullptr;
  api.type_modified(type);
  return none();
}

MethodDef type_modified_def = {"_loopsan_type_modified", reinterpret_cast<void*>(type_modified),
                               kMethVarargs, "loopsan: PyType_Modified (internal)"};

void install_now() {
  if (done.exchange(1) != 0) return;
  ReentryGuard guard;
  int version = version_number();
  if (version < 308) {
    process_info::set_hook("cpython.futures", false);
    log_debug(1, cat("CPython ", api.get_version(), " is too old for loopsan's Python hooks"));
    return;
  }
  // The program may be between operations with an exception pending: keep it aside.
  PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
  api.err_fetch(&type, &value, &tb);
  bool ok = false;
  // The builtins python_hooks.py receives, by name.
  struct Builtin {
    const char* name;
    MethodDef* def;
    PyObject* fn;
  } builtins[] = {{"_loopsan_report", &report_def, nullptr},
                  {"_loopsan_loop_running", &loop_running_def, nullptr},
                  {"_loopsan_thread_leak", &thread_leak_def, nullptr},
                  {"_loopsan_cross_thread", &cross_thread_def, nullptr},
                  {"_loopsan_loop_on_pool", &loop_on_pool_def, nullptr},
                  {"_loopsan_abandoned", &abandoned_def, nullptr},
                  {"_loopsan_type_modified", &type_modified_def, nullptr},
                  {"_loopsan_checked_method", &checked_method_def, nullptr}};
  PyObject* globals = api.dict_new();
  bool ready = globals != nullptr &&
               api.dict_set_item_string(globals, "__builtins__", api.eval_get_builtins()) == 0 &&
               api.dict_set_item_string(globals, "__name__", api.none) == 0;
  for (Builtin& b : builtins) {
    b.fn = api.cfunction_new(b.def, nullptr, nullptr);
    ready = ready && b.fn != nullptr && api.dict_set_item_string(globals, b.name, b.fn) == 0;
  }
  // The options the Python side needs.
  PyObject* threshold = api.long_from_long(options().hang_threshold_ms);
  ready = ready && threshold != nullptr &&
          api.dict_set_item_string(globals, "_loopsan_hang_threshold_ms", threshold) == 0;
  if (threshold != nullptr) api.dec_ref(threshold);
  ready = ready && python_pools::add_builtins(globals);
  ready = ready && python_pytest::add_builtins(globals);
  if (ready) {
    PyObject* code = load_code(
        {kPythonHooksSource, kPythonHooksCode, kPythonHooksCode_size, kPythonHooksCode_magic});
    if (code != nullptr) {
      PyObject* result = api.eval_code(code, globals, globals);
      ok = result != nullptr;
      if (result != nullptr) api.dec_ref(result);
      api.dec_ref(code);
    }
  }
  if (!ok) drop_error("the Python hooks");
  if (globals != nullptr) api.dec_ref(globals);
  for (Builtin& b : builtins) {
    if (b.fn != nullptr) api.dec_ref(b.fn);
  }
  api.err_restore(type, value, tb);
  process_info::set_hook("cpython.futures", ok);
  process_info::set_hook("cpython.asyncio", ok);
  process_info::set_hook("cpython.asyncio_threads", ok);
  process_info::set_hook("cpython.thread_leaks", ok && options().hang_threshold_ms > 0);
}

bool starts_with(const char* s, const char* prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

int audit_hook(const char* event, PyObject* args, void*) {
  if (done.load(std::memory_order_relaxed) != 0 || tls_state.guard != 0) return 0;
  if (starts_with(event, "cpython.run_")) {
    install_now();
  } else if (strcmp(event, "import") == 0) {
    // An embedded interpreter never runs "cpython.run_*": install before the first import
    // of a module we patch (the import machinery asks our finder right after this event).
    PyObject* name = api.tuple_get_item(args, 0);
    const char* text = name != nullptr ? api.unicode_as_utf8(name) : nullptr;
    if (text == nullptr) {
      PyObject *t = nullptr, *v = nullptr, *tb = nullptr;
      api.err_fetch(&t, &v, &tb);  // not a str: nothing to learn, leave no error behind
      if (t != nullptr) api.dec_ref(t);
      if (v != nullptr) api.dec_ref(v);
      if (tb != nullptr) api.dec_ref(tb);
    } else if (starts_with(text, "concurrent") || starts_with(text, "asyncio")) {
      install_now();
    }
  }
  return 0;
}

}  // namespace

void init() {
  if (!cpython::available(cpython::kHooks)) return;  // not CPython, or one without the API
  // A CPython whose stack dump we cannot use still gets the hooks; the start line says which.
  if (!cpython::available(cpython::kStacks)) process_info::set_hook("cpython.stacks", false);
  process_info::set_hook("cpython.futures", false);
  process_info::set_hook("cpython.asyncio", false);
  process_info::set_hook("cpython.asyncio_threads", false);
  process_info::set_hook("cpython.thread_leaks", false);
  events::g_runtime_waiting.store(1, std::memory_order_release);
}

void register_now() {
  if (tls_state.guard != 0) return;
  ErrnoSaver errno_saver;
  // The interpreter has its final allocators once this thread has a thread state, and this
  // thread may call into it while it holds the GIL.
  if (api.this_thread_state() != nullptr && api.gil_check() &&
      events::g_runtime_waiting.exchange(0) != 0) {
    if (api.is_initialized()) {
      install_now();  // an interpreter already running: no run event is coming
    } else {
      // Before the end of initialization there is no thread state to report a refusal to:
      // if this fails the hooks never install and the start line says so.
      ReentryGuard guard;
      api.add_audit_hook(audit_hook, nullptr);
    }
  }
}

void drop_error(const char* what) {
  if (options().verbosity >= 1) {
    log_line(cat("installing ", what, " failed:"));
    api.err_print();
  }
  api.err_clear();  // err_print cleared it already at verbosity >= 1
}

PyObject* load_code(const EmbeddedPython& python) {
  if (api.magic_number() == python.magic) {
    PyObject* code = api.marshal_loads(reinterpret_cast<const char*>(python.code),
                                       static_cast<long>(python.code_size));
    if (code != nullptr) return code;
    api.err_clear();
  }
  return api.compile_string(python.source, "<loopsan>", kPyFileInput);
}

}  // namespace loopsan::python_hooks
