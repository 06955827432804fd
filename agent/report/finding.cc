#include "agent/report/finding.h"

namespace loopsan {

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kBlockingCall:
      return "blocking-call";
    case Kind::kLoopStall:
      return "loop-stall";
    case Kind::kUnretrievedException:
      return "unretrieved-exception";
    case Kind::kUncaughtException:
      return "uncaught-exception";
    case Kind::kHungWait:
      return "hung-wait";
    case Kind::kDeadlock:
      return "deadlock";
    case Kind::kThreadLeak:
      return "thread-leak";
    case Kind::kLoopOnPoolThread:
      return "loop-on-pool-thread";
    case Kind::kPoolStarvation:
      return "pool-starvation";
    case Kind::kCount:
      break;
  }
  return "unknown";
}

}  // namespace loopsan
