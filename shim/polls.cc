// poll, ppoll, select, pselect: a loop's own wait (two descriptors or more, from the same call
// site; see agent/core/loop_tracker.h) or, on a loop thread, a nested wait that blocks it when
// it has a timeout. A one-descriptor poll off a loop is a socket timeout: nothing to say.
#include <poll.h>
#include <sys/select.h>

#include "shim/shim.h"

namespace {

int64_t select_timeout_ms(const timeval* tv) {
  return tv != nullptr ? int64_t{tv->tv_sec} * 1000 + (tv->tv_usec + 999) / 1000 : -1;
}

// Descriptors in the sets, counted only where it matters (a loop thread or a wait that may
// start a loop): two are enough to call it a loop.
int select_count(int nfds, const fd_set* r, const fd_set* w, const fd_set* e) {
  int count = 0;
  for (int fd = 0; fd < nfds && fd < FD_SETSIZE && count < 2; ++fd) {
    if ((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (e && FD_ISSET(fd, e))) ++count;
  }
  return count;
}

}  // namespace

LOOPSAN_EXPORT int poll(pollfd* fds, nfds_t nfds, int timeout) {
  auto real = REAL(poll);
  if (real == nullptr) MISSING_ERRNO;
  events::PollingWait wait(
      "poll",
      events::poll_wait_kind(__builtin_return_address(0), static_cast<int>(nfds > 2 ? 2 : nfds)),
      timeout, __builtin_return_address(0));
  return real(fds, nfds, timeout);
}

LOOPSAN_EXPORT int ppoll(pollfd* fds, nfds_t nfds, const timespec* timeout,
                         const sigset_t* sigmask) {
  auto real = REAL(ppoll);
  if (real == nullptr) MISSING_ERRNO;
  events::PollingWait wait(
      "ppoll",
      events::poll_wait_kind(__builtin_return_address(0), static_cast<int>(nfds > 2 ? 2 : nfds)),
      timeout_ms(timeout), __builtin_return_address(0));
  return real(fds, nfds, timeout, sigmask);
}

LOOPSAN_EXPORT int select(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds,
                          timeval* timeout) {
  auto real = REAL(select);
  if (real == nullptr) MISSING_ERRNO;
  int count = nfds > 0 ? select_count(nfds, readfds, writefds, exceptfds) : 0;
  events::PollingWait wait("select", events::poll_wait_kind(__builtin_return_address(0), count),
                           select_timeout_ms(timeout), __builtin_return_address(0));
  return real(nfds, readfds, writefds, exceptfds, timeout);
}

LOOPSAN_EXPORT int pselect(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds,
                           const timespec* timeout, const sigset_t* sigmask) {
  auto real = REAL(pselect);
  if (real == nullptr) MISSING_ERRNO;
  int count = nfds > 0 ? select_count(nfds, readfds, writefds, exceptfds) : 0;
  events::PollingWait wait("pselect", events::poll_wait_kind(__builtin_return_address(0), count),
                           timeout_ms(timeout), __builtin_return_address(0));
  return real(nfds, readfds, writefds, exceptfds, timeout, sigmask);
}
