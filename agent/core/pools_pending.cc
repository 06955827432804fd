// TEMPORARY, until branch issue-10-pools is merged: the pool registry's two entry points as
// "no pools", so that gil-contention builds and its measurement can be tested on its own.
// Deleted by the merge of issue-10-pools, which defines them in core/pools.cc.
#include "agent/core/pools.h"

namespace loopsan::pools {

std::vector<PoolView> snapshot() {
  return {};
}

bool is_worker(pid_t) {
  return false;
}

}  // namespace loopsan::pools
