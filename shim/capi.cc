// The exported C API (include/loopsan/loopsan.h), a thin layer over the agent.
#define LOOPSAN_SHIM_BUILD 1
#include "loopsan/loopsan.h"

#include <unistd.h>

#include <cerrno>

#include "agent/core/agent.h"
#include "agent/detectors/future_tracker.h"
#include "agent/core/loop_tracker.h"
#include "agent/report/report_file.h"
#include "agent/report/reporter.h"
#include "agent/base/thread_state.h"

extern "C" {

int loopsan_active(void) {
  return loopsan::agent::active() ? 1 : 0;
}

void loopsan_loop_enter(const char*) {
  if (loopsan::agent::active()) loopsan::loop_tracker::enter();
}

void loopsan_loop_exit(void) {
  if (loopsan::agent::active()) loopsan::loop_tracker::exit();
}

void loopsan_allow_blocking_begin(const char*) {
  ++loopsan::tls_state.allow_blocking_depth;
}

void loopsan_allow_blocking_end(void) {
  if (loopsan::tls_state.allow_blocking_depth > 0) --loopsan::tls_state.allow_blocking_depth;
}

// Custom futures: the agent's work must not run inside the agent itself.
#define LOOPSAN_CAPI_GUARD                                                \
  if (!loopsan::agent::active() || loopsan::tls_state.guard != 0) return; \
  int saved_errno_ = errno;                                               \
  loopsan::ReentryGuard guard_;

void loopsan_future_created(const void* future) {
  LOOPSAN_CAPI_GUARD
  loopsan::future_tracker::custom_created(future);
  errno = saved_errno_;
}

void loopsan_future_failed(const void* future, const char* type, const char* what) {
  LOOPSAN_CAPI_GUARD
  loopsan::future_tracker::custom_failed(future, type, what);
  errno = saved_errno_;
}

void loopsan_future_retrieved(const void* future) {
  LOOPSAN_CAPI_GUARD
  loopsan::future_tracker::custom_retrieved(future);
  errno = saved_errno_;
}

void loopsan_future_destroyed(const void* future) {
  LOOPSAN_CAPI_GUARD
  loopsan::future_tracker::custom_destroyed(future);
  errno = saved_errno_;
}

#undef LOOPSAN_CAPI_GUARD

unsigned long long loopsan_findings_count(void) {
  return loopsan::reporter::findings_count();
}

void loopsan_flush(void) {
  if (loopsan::agent::active()) loopsan::report_file::sync();
}

}  // extern "C"
