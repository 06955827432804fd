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

events::PollSet pollfds(const pollfd* fds, nfds_t nfds) {
  events::PollSet set;
  set.pollfds = fds;
  set.count = nfds;
  return set;
}

events::PollSet fd_sets(int nfds, const fd_set* r, const fd_set* w, const fd_set* e) {
  events::PollSet set;
  set.count = nfds > 0 ? static_cast<unsigned long>(nfds) : 0;
  set.sets[0] = r;
  set.sets[1] = w;
  set.sets[2] = e;
  return set;
}

}  // namespace

LOOPSAN_EXPORT int poll(pollfd* fds, nfds_t nfds, int timeout) {
  auto real = REAL(poll);
  if (real == nullptr) MISSING_ERRNO;
  events::PollingWait wait("poll",
                           events::poll_wait_kind(__builtin_return_address(0), pollfds(fds, nfds)),
                           timeout, __builtin_return_address(0));
  return real(fds, nfds, timeout);
}

LOOPSAN_EXPORT int ppoll(pollfd* fds, nfds_t nfds, const timespec* timeout,
                         const sigset_t* sigmask) {
  auto real = REAL(ppoll);
  if (real == nullptr) MISSING_ERRNO;
  events::PollingWait wait("ppoll",
                           events::poll_wait_kind(__builtin_return_address(0), pollfds(fds, nfds)),
                           timeout_ms(timeout), __builtin_return_address(0));
  return real(fds, nfds, timeout, sigmask);
}

// The _FORTIFY_SOURCE versions check the array's size first; the wait is the same.
extern "C" int __poll_chk(pollfd* fds, nfds_t nfds, int timeout, size_t fdslen);
extern "C" int __ppoll_chk(pollfd* fds, nfds_t nfds, const timespec* timeout,
                           const sigset_t* sigmask, size_t fdslen);

LOOPSAN_EXPORT int __poll_chk(pollfd* fds, nfds_t nfds, int timeout, size_t fdslen) {
  auto real = REAL(__poll_chk);
  if (real == nullptr) MISSING_ERRNO;
  events::PollingWait wait("poll",
                           events::poll_wait_kind(__builtin_return_address(0), pollfds(fds, nfds)),
                           timeout, __builtin_return_address(0));
  return real(fds, nfds, timeout, fdslen);
}

LOOPSAN_EXPORT int __ppoll_chk(pollfd* fds, nfds_t nfds, const timespec* timeout,
                               const sigset_t* sigmask, size_t fdslen) {
  auto real = REAL(__ppoll_chk);
  if (real == nullptr) MISSING_ERRNO;
  events::PollingWait wait("ppoll",
                           events::poll_wait_kind(__builtin_return_address(0), pollfds(fds, nfds)),
                           timeout_ms(timeout), __builtin_return_address(0));
  return real(fds, nfds, timeout, sigmask, fdslen);
}

LOOPSAN_EXPORT int select(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds,
                          timeval* timeout) {
  auto real = REAL(select);
  if (real == nullptr) MISSING_ERRNO;
  events::PollingWait wait("select",
                           events::poll_wait_kind(__builtin_return_address(0),
                                                  fd_sets(nfds, readfds, writefds, exceptfds)),
                           select_timeout_ms(timeout), __builtin_return_address(0));
  return real(nfds, readfds, writefds, exceptfds, timeout);
}

LOOPSAN_EXPORT int pselect(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds,
                           const timespec* timeout, const sigset_t* sigmask) {
  auto real = REAL(pselect);
  if (real == nullptr) MISSING_ERRNO;
  events::PollingWait wait("pselect",
                           events::poll_wait_kind(__builtin_return_address(0),
                                                  fd_sets(nfds, readfds, writefds, exceptfds)),
                           timeout_ms(timeout), __builtin_return_address(0));
  return real(nfds, readfds, writefds, exceptfds, timeout, sigmask);
}
