// The shim's vocabulary (after compiler-rt's INTERCEPTOR/REAL):
//
//   LOOPSAN_EXPORT int pthread_join(pthread_t thread, void** retval) {
//     auto real = REAL(pthread_join);
//     if (real == nullptr) return ENOSYS;
//     int rc = real(thread, retval);
//     if (rc == 0) loopsan::events::thread_joined(thread);
//     return rc;
//   }
//
// A wrapper calls the real function through REAL() (agent/interception), tells the agent what
// happened through agent/events.h, and nothing else: no policy, no formatting, no state.
// Every symbol is a row of shim/hooks.def; uniform wrappers are generated from their rows
// (generated_wrappers.cc) and only the odd ones are written by hand.
#pragma once

#include <time.h>

#include <cstdint>

#include "agent/events.h"

#define LOOPSAN_EXPORT extern "C" __attribute__((visibility("default")))

// A wrapper's work on a loop thread goes in a function marked with this, so that the path
// taken everywhere else (one TLS test, a tail jump to the real function) needs no stack frame.
#define LOOPSAN_SLOW_PATH __attribute__((noinline, cold))

// What a wrapper does when the real function is missing (hooks.def's on_missing column).
#define MISSING_ERRNO return ::loopsan::interception::missing_errno_result()
#define MISSING_RETURN(value) return (value)

// A timespec as nanoseconds, for the duration a sleep asks for (-1: none given).
inline int64_t duration_ns(const timespec* ts) {
  return ts != nullptr ? int64_t{ts->tv_sec} * 1000000000 + ts->tv_nsec : -1;
}

// A timeout as milliseconds (-1: none, wait forever), for nested waits.
inline int64_t timeout_ms(const timespec* ts) {
  return ts != nullptr ? int64_t{ts->tv_sec} * 1000 + ts->tv_nsec / 1000000 +
                             (ts->tv_nsec % 1000000 != 0 ? 1 : 0)
                       : -1;
}

// The rule column of hooks.def (DESIGN.md's three classes, or a function of the arguments).
#define ALWAYS ::loopsan::events::BlockRule::kAlways
#define THRESHOLD ::loopsan::events::BlockRule::kThreshold
#define NEVER ::loopsan::events::BlockRule::kNever
using ::loopsan::events::address_rule;
using ::loopsan::events::fd_pair_rule;
using ::loopsan::events::fd_rule;
using ::loopsan::events::host_rule;
using ::loopsan::events::socket_rule;
using ::loopsan::events::sync_range_rule;
using ::loopsan::events::waitid_rule;
using ::loopsan::events::waitpid_rule;

// Every shim file speaks of events::thread_joined(...), events::BlockingScope, ...
namespace events = ::loopsan::events;
