// pipe2() and the close() family around libunwind's validation pipe (agent/stacks/unwinder_pipe.h):
// its pipe goes to high descriptor numbers, and a host that closes it makes libunwind forget
// it first.
#include <fcntl.h>
#include <unistd.h>

#include "agent/core/agent.h"
#include "agent/stacks/stack.h"
#include "agent/base/sys.h"
#include "agent/stacks/unwinder_pipe.h"
#include "shim/interceptor.h"

LOOPSAN_EXPORT int pipe2(int fds[2], int flags) {
  auto real = REAL(pipe2);
  if (real == nullptr) return loopsan::shim::missing_errno_result();
  if (!loopsan::is_unwinder_code(__builtin_return_address(0))) return real(fds, flags);
  int pipe[2];
  int rc = real(pipe, flags);
  if (rc != 0) return rc;
  // libunwind asks for O_CLOEXEC | O_NONBLOCK: the copies are close-on-exec, and O_NONBLOCK
  // belongs to the open pipe, which they share.
  fds[0] = loopsan::sys::move_to_high_fd(pipe[0]);
  fds[1] = loopsan::sys::move_to_high_fd(pipe[1]);
  loopsan::unwinder_pipe::adopt(fds);
  return 0;
}
