// Sleeps: always a finding on an event-loop thread when the duration is not zero.
#include <time.h>
#include <unistd.h>

#include "agent/detectors/blocking.h"
#include "shim/interceptor.h"

using loopsan::blocking::BlockingScope;
using loopsan::blocking::CallSpec;
using loopsan::blocking::Rule;

namespace {

int64_t to_ns(const timespec& ts) {
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

}  // namespace

LOOPSAN_EXPORT unsigned int sleep(unsigned int seconds) {
  auto real = REAL(sleep);
  if (real == nullptr) return seconds;
  CallSpec spec{"sleep", Rule::kAlways, int64_t{seconds} * 1000000000};
  BlockingScope scope(spec);
  return real(seconds);
}

LOOPSAN_EXPORT int usleep(useconds_t usec) {
  auto real = REAL(usleep);
  if (real == nullptr) return loopsan::shim::missing_errno_result();
  CallSpec spec{"usleep", Rule::kAlways, int64_t{usec} * 1000};
  BlockingScope scope(spec);
  return real(usec);
}

LOOPSAN_EXPORT int nanosleep(const timespec* req, timespec* rem) {
  auto real = REAL(nanosleep);
  if (real == nullptr) return loopsan::shim::missing_errno_result();
  CallSpec spec{"nanosleep", Rule::kAlways, req != nullptr ? to_ns(*req) : -1};
  BlockingScope scope(spec);
  return real(req, rem);
}

LOOPSAN_EXPORT int clock_nanosleep(clockid_t clock, int flags, const timespec* req, timespec* rem) {
  auto real = REAL(clock_nanosleep);
  if (real == nullptr) return ENOSYS;  // returns the error, does not set errno
  int64_t requested = -1;
  if (req != nullptr && loopsan::loop_tracker::maybe_loop_thread()) {
    requested = to_ns(*req);
    if (flags & TIMER_ABSTIME) {
      // An absolute deadline (CPython's time.sleep uses one): what is left of it.
      timespec now{};
      if (clock_gettime(clock, &now) == 0) requested -= to_ns(now);
      if (requested < 0) requested = 0;
    }
  }
  CallSpec spec{"clock_nanosleep", Rule::kAlways, requested};
  BlockingScope scope(spec);
  return real(clock, flags, req, rem);
}
