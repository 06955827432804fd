// C++ exceptions as libstdc++ throws them: where each one was thrown (bounded memory), whether
// it was ever handed back to a caller through std::rethrow_exception, and what it is.
//
// A thrown exception's stack (raw return addresses) goes into a small per-thread ring (no lock,
// no malloc on the throw path); the slot is forgotten when libstdc++ frees the exception
// object. Only an exception that is captured into an exception_ptr (std::current_exception,
// std::make_exception_ptr) is "pinned" into a process-wide table, its stack interned in the
// stack depot: that is how an exception reaches a future or another thread. An exception that
// is thrown and caught normally never leaves its thread's ring, and costs no depot lookup.
#pragma once

#include <cstdint>
#include <string>

#include "agent/stacks/stack.h"

namespace loopsan::cxx_exceptions {

// Shim events (obj is the thrown object, as __cxa_throw receives it).
void on_throw(void* obj, const void* type_info);
void on_make(void* obj, const void* type_info);  // __cxa_init_primary_exception
void on_capture(void* obj);                      // std::current_exception returned it
void on_rethrow(void* obj);                      // std::rethrow_exception: retrieved
void on_free(void* obj);                         // __cxa_free_exception

// What a report needs about one exception.
struct Info {
  std::string type;  // demangled, "unknown" if not known
  std::string what;  // std::exception::what(), empty for other types
  bool retrieved = false;
  StackId throw_stack = 0;  // 0 when not known
  pid_t throw_tid = 0;
};

// Looks `obj` up (pinned table first, then this thread's ring). `type_info` may be null when
// the caller does not know it; the recorded one is used then.
Info describe(void* obj, const void* type_info);
bool retrieved(void* obj);

// The object and type of the exception being handled on this thread (terminate handler).
void* current_exception_object(const void** type_info);

// Demangled name and what() of an exception object of dynamic type `type_info`.
std::string type_name(const void* type_info);
std::string what_of(void* obj, const void* type_info);

// True for std::future_error(broken_promise): libstdc++ stores it when a promise or task is
// abandoned (including by thread cancellation), which alone is no lost failure.
bool is_broken_promise(void* obj, const void* type_info);

// Frees this thread's ring (thread exit).
void thread_exiting();
// In a fork() child (core/module.h).
void reset_after_fork();

}  // namespace loopsan::cxx_exceptions
