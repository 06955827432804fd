#include "agent/base/thread_state.h"

#include "agent/base/sys.h"

namespace loopsan {

__thread ThreadState tls_state __attribute__((tls_model("initial-exec")));

pid_t current_tid() {
  if (tls_state.tid == 0) tls_state.tid = sys::gettid();
  return tls_state.tid;
}

}  // namespace loopsan
