#include "agent/runtimes/python_hooks.h"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "agent/base/errno_saver.h"
#include "agent/base/json.h"
#include "agent/events.h"
#include "agent/base/log.h"
#include "agent/detectors/exception_finding.h"
#include "agent/detectors/thread_leak.h"
#include "agent/base/options.h"
#include "agent/core/process_info.h"
#include "agent/runtimes/cpython_api.h"
#include "agent/runtimes/python_bridge.h"
#include "agent/runtimes/python_pools.h"
#include "agent/stacks/stack.h"
#include "agent/base/text.h"
#include "agent/base/thread_state.h"
#include "python_hooks_source.h"  // kPythonHooksSource, generated from python_hooks.py

namespace loopsan::python_hooks {

namespace {

using cpython::PyObject;
// Under the name report() and the other entry points have always used.
using cpython::api;

// The layout of PyMethodDef (stable ABI).
struct MethodDef {
  const char* name;
  PyObject* (*meth)(PyObject*, PyObject*);
  int flags;
  const char* doc;
};
constexpr int kMethVarargs = 0x0001;
constexpr int kPyFileInput = 257;

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
    std::vector<python::PyFrame> dropped = python::capture_stack();
    // Leave out the machinery that called us: python_hooks.py's own frames and the
    // weakref.finalize call that runs them.
    std::vector<python::PyFrame> visible;
    bool leading = true, dropped_entry = false;
    for (auto& fr : dropped) {
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
    // Raised in Python: the native throw stack stays unknown (0).
    f.thrown_in_python(parse_frames(throw_text));
    f.python_stack(std::move(visible));
    f.submit();
  }
  api.inc_ref(api.none);
  return api.none;
}

MethodDef report_def = {"_loopsan_report", report, kMethVarargs,
                        "loopsan: report a lost exception (internal)"};

// _loopsan_loop_running(flag) -- asyncio started (1) or stopped (0) its loop on this thread.
PyObject* loop_running(PyObject*, PyObject* args) {
  int running = 0;
  if (!api.arg_parse_tuple(args, "p", &running)) return nullptr;
  events::runtime_loop_running(running != 0);
  api.inc_ref(api.none);
  return api.none;
}

MethodDef loop_running_def = {"_loopsan_loop_running", loop_running, kMethVarargs,
                              "loopsan: an asyncio loop starts or stops (internal)"};

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

MethodDef thread_leak_def = {"_loopsan_thread_leak", thread_leak, kMethVarargs,
                             "loopsan: non-daemon threads still running at shutdown (internal)"};

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
  PyObject* fn = api.cfunction_new(&report_def, nullptr, nullptr);
  PyObject* loop_fn = api.cfunction_new(&loop_running_def, nullptr, nullptr);
  PyObject* leak_fn = api.cfunction_new(&thread_leak_def, nullptr, nullptr);
  PyObject* globals = api.dict_new();
  // The options the Python side needs, as assignments ahead of its source.
  std::string source =
      cat("_loopsan_hang_threshold_ms = ", options().hang_threshold_ms, "\n", kPythonHooksSource);
  if (fn != nullptr && loop_fn != nullptr && leak_fn != nullptr && globals != nullptr &&
      api.dict_set_item_string(globals, "__builtins__", api.eval_get_builtins()) == 0 &&
      api.dict_set_item_string(globals, "__name__", api.none) == 0 &&
      api.dict_set_item_string(globals, "_loopsan_report", fn) == 0 &&
      api.dict_set_item_string(globals, "_loopsan_loop_running", loop_fn) == 0 &&
      api.dict_set_item_string(globals, "_loopsan_thread_leak", leak_fn) == 0 &&
      python_pools::add_builtins(globals)) {
    PyObject* code = api.compile_string(source.c_str(), "<loopsan>", kPyFileInput);
    if (code != nullptr) {
      PyObject* result = api.eval_code(code, globals, globals);
      ok = result != nullptr;
      if (result != nullptr) api.dec_ref(result);
      api.dec_ref(code);
    }
  }
  if (!ok) {
    if (options().verbosity >= 1) {
      log_line("installing the Python hooks failed:");
      api.err_print();
    }
    // Clear our own error (err_print cleared it at verbosity >= 1).
    PyObject *t2 = nullptr, *v2 = nullptr, *tb2 = nullptr;
    api.err_fetch(&t2, &v2, &tb2);
    if (t2 != nullptr) api.dec_ref(t2);
    if (v2 != nullptr) api.dec_ref(v2);
    if (tb2 != nullptr) api.dec_ref(tb2);
  }
  if (globals != nullptr) api.dec_ref(globals);
  if (fn != nullptr) api.dec_ref(fn);
  if (loop_fn != nullptr) api.dec_ref(loop_fn);
  if (leak_fn != nullptr) api.dec_ref(leak_fn);
  api.err_restore(type, value, tb);
  process_info::set_hook("cpython.futures", ok);
  process_info::set_hook("cpython.asyncio", ok);
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

}  // namespace loopsan::python_hooks
