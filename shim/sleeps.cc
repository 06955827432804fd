// clock_nanosleep: the one sleep that hooks.def cannot generate. An absolute deadline
// (CPython's time.sleep uses one) needs the clock to know how long the caller asked to sleep.
#include <time.h>

#include <cerrno>

#include "shim/shim.h"

LOOPSAN_EXPORT int clock_nanosleep(clockid_t clock, int flags, const timespec* req, timespec* rem) {
  auto real = REAL(clock_nanosleep);
  if (real == nullptr) return ENOSYS;  // returns the error, does not set errno
  int64_t requested = -1;
  // Reading the clock costs a little: only where the answer may be reported.
  if (req != nullptr && events::maybe_loop_thread()) {
    requested = duration_ns(req);
    if (flags & TIMER_ABSTIME) {
      timespec now{};
      if (clock_gettime(clock, &now) == 0) requested -= duration_ns(&now);
      if (requested < 0) requested = 0;
    }
  }
  events::BlockingScope scope(
      events::BlockingCall{"clock_nanosleep", events::BlockRule::kAlways, requested});
  return real(clock, flags, req, rem);
}
