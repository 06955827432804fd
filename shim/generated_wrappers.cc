// The uniform wrappers, one per LOOPSAN_BLOCKING or LOOPSAN_LOOP_WAIT row of hooks.def. Adding a
// blocking call that needs nothing unusual is adding a row.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <resolv.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>

#include "shim/shim.h"

// Off a loop thread a row's wrapper costs the real function's load and one TLS test, then jumps
// to the real function with no frame of its own; the rule (which may look at the descriptor)
// is computed only on a loop thread, in on_loop_<symbol>, which the wrapper tail-calls (so that
// its return address is still the caller's).
#define LOOPSAN_HOOK(group, sym, version, need)
#define LOOPSAN_COMPAT(group, id, sym, version)
#define LOOPSAN_BLOCKING(group, sym, rule, ret, params, args, requested_ns, on_missing) \
  static LOOPSAN_SLOW_PATH ret on_loop_##sym params {                                   \
    events::BlockingScope scope(                                                        \
        events::BlockingCall{#sym, rule, requested_ns, __builtin_return_address(0)});   \
    return REAL(sym) args;                                                              \
  }                                                                                     \
  LOOPSAN_EXPORT ret sym params {                                                       \
    auto real = REAL(sym);                                                              \
    if (real == nullptr) on_missing;                                                    \
    if (__builtin_expect(!events::maybe_loop_thread(), 1)) return real args;            \
    return on_loop_##sym args;                                                          \
  }
#define LOOPSAN_LOOP_WAIT(group, sym, ret, params, args, epfd, timeout, on_missing) \
  LOOPSAN_EXPORT ret sym params {                                                   \
    auto real = REAL(sym);                                                          \
    if (real == nullptr) on_missing;                                                \
    events::PollingWait wait(#sym, events::epoll_wait_kind(epfd), timeout,          \
                             __builtin_return_address(0));                          \
    return real args;                                                               \
  }
#include "shim/hooks.def"
#undef LOOPSAN_HOOK
#undef LOOPSAN_COMPAT
#undef LOOPSAN_BLOCKING
#undef LOOPSAN_LOOP_WAIT
