// C++ exceptions and futures, interposed in libstdc++.so: throws (where), captures into
// exception_ptr, rethrows (retrieval), frees (forget), future results (created/destroyed),
// and the terminate handler.
//
// The symbols are the mangled names of libstdc++'s out-of-line functions, defined here as
// extern "C" functions with the same ABI. libstdc++ is the shim's own dependency and has had
// all of them since GCC 7, so REAL() is never null here. This file must not include <exception>,
// <future> or <cxxabi.h>, which declare the same symbols with C++ types.
#include <cerrno>

#include "agent/core/agent.h"
#include "agent/runtimes/cxx_exceptions.h"
#include "agent/detectors/future_tracker.h"
#include "agent/stacks/stack.h"
#include "agent/base/thread_state.h"
#include "agent/detectors/uncaught.h"
#include "shim/interceptor.h"

namespace cxx = loopsan::cxx_exceptions;
namespace futures = loopsan::future_tracker;

namespace {

// Agent work on behalf of a hook: skipped while the agent itself runs.
inline bool tracking() {
  return loopsan::agent::active() && loopsan::tls_state.guard == 0;
}

// The agent's work around a hook: re-entrancy guard, and errno as the host left it (stack
// capture may make system calls).
class AgentScope {
 public:
  AgentScope() : saved_errno_(errno) {}
  ~AgentScope() { errno = saved_errno_; }

 private:
  int saved_errno_;
  loopsan::ReentryGuard guard_;
};

// libstdc++'s __cxa_throw initializes the exception through __cxa_init_primary_exception:
// that call is part of a throw already recorded, not a std::make_exception_ptr.
__thread void* throwing __attribute__((tls_model("initial-exec")));

}  // namespace

extern "C" {

// Not declared noreturn, and the real function is called in tail position: the compiler then
// jumps to it instead of calling it, so this wrapper's frame is gone before libgcc unwinds the
// stack. An extra frame costs each throw two more FDE lookups and CFI evaluations (measured
// with tools/bench: throw_heavy went from 1.37x to 1.07x the baseline without it).
__attribute__((visibility("default"))) void __cxa_throw(void* obj, void* type_info,
                                                        void (*destroy)(void*)) {
  auto real = REAL(__cxa_throw);
  if (tracking()) {
    AgentScope scope;
    cxx::on_throw(obj, type_info);
    throwing = obj;
  }
  return real(obj, type_info, destroy);
}

// std::make_exception_ptr builds the exception in place: where it is made is where it was
// "thrown".
__attribute__((visibility("default"))) void* __cxa_init_primary_exception(void* obj,
                                                                          void* type_info,
                                                                          void (*destroy)(void*)) {
  auto real = REAL(__cxa_init_primary_exception);
  if (throwing == obj) {
    throwing = nullptr;
  } else if (tracking()) {
    AgentScope scope;
    cxx::on_make(obj, type_info);
  }
  return real(obj, type_info, destroy);
}

__attribute__((visibility("default"))) void __cxa_free_exception(void* obj) {
  auto real = REAL(__cxa_free_exception);
  if (throwing == obj) throwing = nullptr;
  if (tracking()) {
    AgentScope scope;
    cxx::on_free(obj);
  }
  real(obj);
}

// std::exception_ptr std::current_exception(): the result comes back through a hidden
// pointer (exception_ptr is not trivially copyable); its first word is the exception object.
__attribute__((visibility("default"))) void* _ZSt17current_exceptionv(void* result) {
  auto real = REAL(_ZSt17current_exceptionv);
  void* r = real(result);
  void* obj = *static_cast<void**>(result);
  if (obj != nullptr && tracking()) {
    AgentScope scope;
    cxx::on_capture(obj);
  }
  return r;
}

// [[noreturn]] void std::rethrow_exception(std::exception_ptr): the argument is passed by
// invisible reference. This is how future::get() and shared_future::get() hand a stored
// exception to their caller.
__attribute__((visibility("default"))) void
_ZSt17rethrow_exceptionNSt15__exception_ptr13exception_ptrE(void* ptr) {
  auto real = REAL(_ZSt17rethrow_exceptionNSt15__exception_ptr13exception_ptrE);
  void* obj = *static_cast<void**>(ptr);
  if (obj != nullptr && tracking()) {
    AgentScope scope;
    cxx::on_rethrow(obj);
  }
  return real(ptr);  // a jump, like __cxa_throw above
}

__attribute__((visibility("default"))) void _ZNSt13__future_base12_Result_baseC1Ev(void* self) {
  REAL(_ZNSt13__future_base12_Result_baseC1Ev)(self);
  if (loopsan::agent::active()) futures::result_created(self);
}

__attribute__((visibility("default"))) void _ZNSt13__future_base12_Result_baseC2Ev(void* self) {
  REAL(_ZNSt13__future_base12_Result_baseC2Ev)(self);
  if (loopsan::agent::active()) futures::result_created(self);
}

__attribute__((visibility("default"))) void _ZNSt13__future_base12_Result_baseD1Ev(void* self) {
  if (loopsan::agent::active()) futures::result_destroying(self);
  REAL(_ZNSt13__future_base12_Result_baseD1Ev)(self);
}

__attribute__((visibility("default"))) void _ZNSt13__future_base12_Result_baseD2Ev(void* self) {
  if (loopsan::agent::active()) futures::result_destroying(self);
  REAL(_ZNSt13__future_base12_Result_baseD2Ev)(self);
}

using TerminateHandler = void (*)();

// The host installs its terminate handler: it runs after loopsan's, which stays in place.
__attribute__((visibility("default"))) TerminateHandler _ZSt13set_terminatePFvvE(
    TerminateHandler handler) {
  if (!loopsan::agent::active()) return REAL(_ZSt13set_terminatePFvvE)(handler);
  return loopsan::uncaught::host_set(handler);
}

// std::terminate() inside libstdc++ also asks get_terminate() which handler to run: it must
// get loopsan's. Everyone else sees the handler the host installed. libstdc++ calls this on
// every throw (to fill in the exception header), so the caller test is two compares against
// libstdc++'s address range, found once.
__attribute__((visibility("default"))) TerminateHandler _ZSt13get_terminatev() {
  auto real = REAL(_ZSt13get_terminatev);
  if (!loopsan::agent::active()) return real();
  static const loopsan::CodeRange runtime =
      loopsan::code_range_of(reinterpret_cast<const void*>(real));
  if (runtime.contains(__builtin_return_address(0))) return real();
  return loopsan::uncaught::host_get();
}

}  // extern "C"
