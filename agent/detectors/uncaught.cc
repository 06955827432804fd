#include "agent/detectors/uncaught.h"

#include <atomic>
#include <cstdlib>

#include "agent/runtimes/cxx_exceptions.h"
#include "agent/detectors/exception_finding.h"
#include "agent/runtimes/python_bridge.h"
#include "agent/base/text.h"
#include "agent/base/thread_state.h"

namespace loopsan::uncaught {
namespace {

std::atomic<Handler> host_handler{nullptr};
Handler default_handler = nullptr;  // libstdc++'s, as set_terminate(nullptr) restores it
__thread int in_handler __attribute__((tls_model("initial-exec")));

void report_current_exception() {
  const void* type = nullptr;
  void* obj = cxx_exceptions::current_exception_object(&type);
  if (obj == nullptr) return;  // std::terminate() without an exception: the summary says abort
  cxx_exceptions::Info info = cxx_exceptions::describe(obj, type);
  ExceptionFinding f(Kind::kUncaughtException, info.type, info.what);
  f.message(cat(" escaped thread ", f.thread().tid, " (", f.thread().name,
                ") and terminated the process"));
  f.thrown_at(info.throw_stack);
  f.python_stack(python::capture_stack());
  f.submit();
}

[[noreturn]] void on_terminate() {
  if (in_handler++ == 0) {
    ReentryGuard guard;
    report_current_exception();
  }
  Handler next = host_handler.load();
  if (next != nullptr) next();
  abort();  // a terminate handler must not return
}

}  // namespace

void install(Handler (*real_set_terminate)(Handler)) {
  if (real_set_terminate == nullptr) return;
  default_handler = real_set_terminate(on_terminate);
  host_handler.store(default_handler);
}

Handler host_set(Handler handler) {
  // std::set_terminate(nullptr) restores the default handler; keep that meaning.
  return host_handler.exchange(handler != nullptr ? handler : default_handler);
}

Handler host_get() {
  return host_handler.load();
}

}  // namespace loopsan::uncaught
