// The uniform wrappers, one per LOOPSAN_BLOCKING or LOOPSAN_LOOP_WAIT row of hooks.def. Adding a
// blocking call that needs nothing unusual is adding a row.
#include <signal.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>

#include "shim/shim.h"

#define LOOPSAN_HOOK(group, sym, version, need)
#define LOOPSAN_BLOCKING(group, sym, rule, ret, params, args, requested_ns, on_missing)       \
  LOOPSAN_EXPORT ret sym params {                                                             \
    auto real = REAL(sym);                                                                    \
    if (real == nullptr) on_missing;                                                          \
    loopsan::events::BlockingScope scope(                                                     \
        loopsan::events::BlockingCall{#sym, loopsan::events::BlockRule::rule, requested_ns}); \
    return real args;                                                                         \
  }
#define LOOPSAN_LOOP_WAIT(group, sym, ret, params, args, epfd, on_missing) \
  LOOPSAN_EXPORT ret sym params {                                          \
    auto real = REAL(sym);                                                 \
    if (real == nullptr) on_missing;                                       \
    loopsan::events::loop_wait_begin(epfd);                                \
    ret result = real args;                                                \
    loopsan::events::loop_wait_end(epfd);                                  \
    return result;                                                         \
  }
#include "shim/hooks.def"
#undef LOOPSAN_HOOK
#undef LOOPSAN_BLOCKING
#undef LOOPSAN_LOOP_WAIT
