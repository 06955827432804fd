// The unretrieved-exception detector for C++ futures: libstdc++'s shared states
// (std::async, std::promise, std::packaged_task, shared_future) and custom future types that
// use the C API.
//
// libstdc++ keeps a future's outcome in a std::__future_base::_Result_base, whose constructor
// and destructor are out of line in libstdc++.so: the shim sees every result come and go.
// When one is destroyed holding an exception that std::rethrow_exception never handed to a
// caller (future::get, shared_future::get), the exception was lost: a finding, with the stack
// where it was thrown and the stack where the last reference went. Results still alive at exit
// are checked then.
#pragma once

#include <cstdint>

namespace loopsan::future_tracker {

// _Result_base constructed / about to be destroyed (`self` is the _Result_base subobject).
void result_created(void* self);
void result_destroying(void* self);

// The C API for custom future types.
void custom_created(const void* id);
void custom_failed(const void* id, const char* type, const char* what);
void custom_retrieved(const void* id);
void custom_destroyed(const void* id);

// At exit: report failed results and custom futures that are still alive.
void check_at_exit();

// In a fork() child (core/module.h).
void reset_after_fork();

}  // namespace loopsan::future_tracker
