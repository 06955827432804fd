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

// The _FORTIFY_SOURCE entry points, declared by glibc's headers only in fortified builds.
extern "C" {
ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void* buf, size_t n, off_t offset, size_t buflen);
ssize_t __pread64_chk(int fd, void* buf, size_t n, off64_t offset, size_t buflen);
ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void* buf, size_t n, size_t buflen, int flags, sockaddr* addr,
                       socklen_t* len);
// resolv.h no longer declares the old libresolv names.
int __res_query(const char*, int, int, unsigned char*, int);
int __res_search(const char*, int, int, unsigned char*, int);
int __res_querydomain(const char*, const char*, int, int, unsigned char*, int);
int __res_nquery(res_state, const char*, int, int, unsigned char*, int);
int __res_nsearch(res_state, const char*, int, int, unsigned char*, int);
int __res_nquerydomain(res_state, const char*, const char*, int, int, unsigned char*, int);
}

// Off a loop thread a row's wrapper costs the real function's load and one TLS test, then jumps
// to the real function with no frame of its own. Everything else (the first lookup of the real
// function, and on a loop thread the rule, which may look at the descriptor) is in
// slow_<symbol>, which the wrapper tail-calls, so that its return address is the caller's.
#define LOOPSAN_HOOK(group, sym, version, need)
#define LOOPSAN_COMPAT(group, id, sym, version)
#define LOOPSAN_BLOCKING(group, sym, rule, ret, params, args, requested_ns, on_missing) \
  static LOOPSAN_SLOW_PATH ret slow_##sym params {                                      \
    auto real = REAL(sym);                                                              \
    if (real == nullptr) on_missing;                                                    \
    if (!events::maybe_loop_thread()) return real args;                                 \
    events::BlockRule how = rule;                                                       \
    /* A non-blocking descriptor, WNOHANG, ...: nothing to time or report. */           \
    if (how == NEVER) return real args;                                                 \
    events::BlockingScope scope(                                                        \
        events::BlockingCall{#sym, how, requested_ns, __builtin_return_address(0)});    \
    return real args;                                                                   \
  }                                                                                     \
  LOOPSAN_EXPORT ret sym params {                                                       \
    auto real = REAL_IF_RESOLVED(sym);                                                  \
    if (__builtin_expect(real != nullptr && !events::maybe_loop_thread(), 1)) {         \
      return real args;                                                                 \
    }                                                                                   \
    return slow_##sym args;                                                             \
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
