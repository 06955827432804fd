// Replacements for the two functions of Abseil's base/internal/sysinfo.cc that its SpinLock
// (used by the symbolizer) needs.
//
// Why: Debian builds libabsl_*.a as PIE, and sysinfo.cc.o holds a thread_local compiled with
// the local-exec TLS model (R_X86_64_TPOFF32), which cannot be linked into a shared object.
// Defining these here keeps the linker from pulling that archive member into libloopsan.so,
// which links the rest of Abseil statically and hidden (--exclude-libs).
#include <unistd.h>

#include "absl/base/internal/sysinfo.h"

namespace absl {
ABSL_NAMESPACE_BEGIN
namespace base_internal {

int NumCPUs() {
  static const int cpus = [] {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(n) : 1;
  }();
  return cpus;
}

// Only CycleClock::Frequency() reads this, and nothing in loopsan asks for it; a nominal
// 1 GHz keeps any such use finite.
double NominalCPUFrequency() {
  return 1e9;
}

}  // namespace base_internal
ABSL_NAMESPACE_END
}  // namespace absl
