// Event-loop waits make a thread a loop thread; closing the loop's epoll set ends the loop.
#include <sys/epoll.h>
#include <unistd.h>

#include "agent/core/agent.h"
#include "agent/core/loop_tracker.h"
#include "agent/stacks/stack.h"
#include "agent/stacks/unwinder_pipe.h"
#include "shim/interceptor.h"

namespace loop_tracker = loopsan::loop_tracker;

namespace {

inline void note_loop_wait(int epfd) {
  if (loopsan::agent::active()) loop_tracker::loop_wait(epfd);
}

// A vfork() child (subprocess, posix_spawn) closes descriptors in our own address space
// before it execs: those closes must not end the parent's loops. Checked only when a loop
// descriptor is involved, so an ordinary close() costs one load.
inline bool closes_our_loops() {
  return loopsan::agent::active() && loopsan::agent::same_process();
}

// The host closes descriptors in [first, last]: if that includes libunwind's pipe, libunwind
// forgets it first (agent/stacks/unwinder_pipe.h). Not libunwind's own closes, nor a vfork child's
// (its descriptor table is its own, its memory is ours).
inline void before_host_closes(unsigned first, unsigned last, void* caller) {
  namespace pipe = loopsan::unwinder_pipe;
  if (pipe::in_range(first, last) && !loopsan::is_unwinder_code(caller) &&
      loopsan::agent::same_process()) {
    pipe::host_closing(static_cast<int>(first),
                       static_cast<int>(last > 0x7fffffff ? 0x7fffffff : last), REAL(close));
  }
}

}  // namespace

LOOPSAN_EXPORT int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout) {
  auto real = REAL(epoll_wait);
  if (real == nullptr) return loopsan::shim::missing_errno_result();
  note_loop_wait(epfd);
  return real(epfd, events, maxevents, timeout);
}

LOOPSAN_EXPORT int epoll_pwait(int epfd, epoll_event* events, int maxevents, int timeout,
                               const sigset_t* sigmask) {
  auto real = REAL(epoll_pwait);
  if (real == nullptr) return loopsan::shim::missing_errno_result();
  note_loop_wait(epfd);
  return real(epfd, events, maxevents, timeout, sigmask);
}

LOOPSAN_EXPORT int epoll_pwait2(int epfd, epoll_event* events, int maxevents,
                                const timespec* timeout, const sigset_t* sigmask) {
  auto real = REAL(epoll_pwait2);
  if (real == nullptr) return loopsan::shim::missing_errno_result();
  note_loop_wait(epfd);
  return real(epfd, events, maxevents, timeout, sigmask);
}

LOOPSAN_EXPORT int close(int fd) {
  auto real = REAL(close);
  if (real == nullptr) return loopsan::shim::missing_errno_result();
  if (loopsan::unwinder_pipe::involves(fd)) {
    before_host_closes(static_cast<unsigned>(fd), static_cast<unsigned>(fd),
                       __builtin_return_address(0));
  }
  if (loop_tracker::is_loop_fd(fd) && closes_our_loops()) loop_tracker::loop_fd_closed(fd);
  return real(fd);
}

LOOPSAN_EXPORT int close_range(unsigned int first, unsigned int last, int flags) {
  auto real = REAL(close_range);
  if (real == nullptr) return loopsan::shim::missing_errno_result();
  if ((flags & CLOSE_RANGE_CLOEXEC) == 0) {
    if (closes_our_loops()) loop_tracker::loop_fds_closed(first, last);
    before_host_closes(first, last, __builtin_return_address(0));
  }
  return real(first, last, flags);
}

LOOPSAN_EXPORT void closefrom(int lowfd) {
  auto real = REAL(closefrom);
  if (lowfd >= 0) {
    if (closes_our_loops()) loop_tracker::loop_fds_closed(static_cast<unsigned>(lowfd), ~0u);
    before_host_closes(static_cast<unsigned>(lowfd), ~0u, __builtin_return_address(0));
  }
  if (real != nullptr) real(lowfd);
}
