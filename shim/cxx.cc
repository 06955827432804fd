// C++ exceptions and futures, interposed in libstdc++.so: throws (where), captures into
// exception_ptr, rethrows (retrieval), frees (forget), future results (created/destroyed),
// and the terminate handler.
//
// The symbols are the mangled names of libstdc++'s out-of-line functions, defined here as
// extern "C" functions with the same ABI. libstdc++ is the shim's own dependency and has had
// all of them since GCC 7, so REAL() is never null here. This file must not include <exception>,
// <future> or <cxxabi.h>, which declare the same symbols with C++ types.
#include "shim/shim.h"

namespace {

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
  if (events::enabled()) {
    events::exception_thrown(obj, type_info);
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
  } else if (events::enabled()) {
    events::exception_made(obj, type_info);
  }
  return real(obj, type_info, destroy);
}

__attribute__((visibility("default"))) void __cxa_free_exception(void* obj) {
  auto real = REAL(__cxa_free_exception);
  if (throwing == obj) throwing = nullptr;
  if (events::enabled()) events::exception_freed(obj);
  real(obj);
}

// std::exception_ptr std::current_exception(): the result comes back through a hidden
// pointer (exception_ptr is not trivially copyable); its first word is the exception object.
__attribute__((visibility("default"))) void* _ZSt17current_exceptionv(void* result) {
  auto real = REAL(_ZSt17current_exceptionv);
  void* r = real(result);
  void* obj = *static_cast<void**>(result);
  if (obj != nullptr && events::enabled()) events::exception_captured(obj);
  return r;
}

// [[noreturn]] void std::rethrow_exception(std::exception_ptr): the argument is passed by
// invisible reference. This is how future::get() and shared_future::get() hand a stored
// exception to their caller.
__attribute__((visibility("default"))) void
_ZSt17rethrow_exceptionNSt15__exception_ptr13exception_ptrE(void* ptr) {
  auto real = REAL(_ZSt17rethrow_exceptionNSt15__exception_ptr13exception_ptrE);
  void* obj = *static_cast<void**>(ptr);
  if (obj != nullptr && events::enabled()) events::exception_rethrown(obj);
  return real(ptr);  // a jump, like __cxa_throw above
}

__attribute__((visibility("default"))) void _ZNSt13__future_base12_Result_baseC1Ev(void* self) {
  REAL(_ZNSt13__future_base12_Result_baseC1Ev)(self);
  events::future_result_created(self);
}

__attribute__((visibility("default"))) void _ZNSt13__future_base12_Result_baseC2Ev(void* self) {
  REAL(_ZNSt13__future_base12_Result_baseC2Ev)(self);
  events::future_result_created(self);
}

__attribute__((visibility("default"))) void _ZNSt13__future_base12_Result_baseD1Ev(void* self) {
  events::future_result_destroying(self);
  REAL(_ZNSt13__future_base12_Result_baseD1Ev)(self);
}

__attribute__((visibility("default"))) void _ZNSt13__future_base12_Result_baseD2Ev(void* self) {
  events::future_result_destroying(self);
  REAL(_ZNSt13__future_base12_Result_baseD2Ev)(self);
}

using events::TerminateHandler;

// The host installs its terminate handler: it runs after loopsan's, which stays in place.
__attribute__((visibility("default"))) TerminateHandler _ZSt13set_terminatePFvvE(
    TerminateHandler handler) {
  if (!events::active()) return REAL(_ZSt13set_terminatePFvvE)(handler);
  return events::host_set_terminate(handler);
}

// std::terminate() inside libstdc++ also asks get_terminate() which handler to run: it must
// get loopsan's. Everyone else sees the handler the host installed.
__attribute__((visibility("default"))) TerminateHandler _ZSt13get_terminatev() {
  if (!events::active()) return REAL(_ZSt13get_terminatev)();
  return events::terminate_handler_for(__builtin_return_address(0));
}

}  // extern "C"
