#include "agent/base/errno_saver.h"
#include "agent/runtimes/cpython_api.h"

#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "agent/core/process_info.h"

namespace loopsan::cpython {

namespace detail {
Api g_table;
}  // namespace detail

const SymbolInfo kSymbols[] = {
#define LOOPSAN_CPYTHON_INFO(member, features, name, fallback, ...) \
  {#member, name, fallback, features},
    LOOPSAN_CPYTHON_API(LOOPSAN_CPYTHON_INFO)
#undef LOOPSAN_CPYTHON_INFO
};
const int kSymbolCount = sizeof kSymbols / sizeof kSymbols[0];

namespace {

enum State : int { kAbsent, kWriting, kResolved };

// Static storage, not a heap table: python_hooks binds `api` to it before any constructor
// runs, and the table is never freed or swapped.
std::atomic<int> g_state{kAbsent};
std::atomic<uint32_t> g_features{0};

template <typename T>
void lookup(T*& slot, const char* name, const char* fallback) {
  slot = reinterpret_cast<T*>(dlsym(RTLD_DEFAULT, name));
  if (slot == nullptr && fallback != nullptr) {
    slot = reinterpret_cast<T*>(dlsym(RTLD_DEFAULT, fallback));
  }
}

uint32_t resolve() {
  // Py_IsInitialized first: in the common case (no Python at all) one dlsym per attempt.
  if (dlsym(RTLD_DEFAULT, "Py_IsInitialized") == nullptr) return 0;
  Api probe{};
  uint32_t missing = 0;
#define LOOPSAN_CPYTHON_LOOKUP(member, features, name, fallback, ...) \
  lookup(probe.member, name, fallback);                               \
  if (probe.member == nullptr) missing |= (features);
  LOOPSAN_CPYTHON_API(LOOPSAN_CPYTHON_LOOKUP)
#undef LOOPSAN_CPYTHON_LOOKUP
  int expected = kAbsent;
  if (!g_state.compare_exchange_strong(expected, kWriting, std::memory_order_acquire)) {
    // Another thread is publishing the same table. Not waiting for it: this call goes without
    // Python this once rather than spin (forever, in a fork() child copied mid-publication).
    return expected == kResolved ? g_features.load(std::memory_order_relaxed) : 0;
  }
  detail::g_table = probe;
  uint32_t available = (kStacks | kHooks | kFrameKeys | kThreadStacks) & ~missing;
  g_features.store(available, std::memory_order_relaxed);
  g_state.store(kResolved, std::memory_order_release);
  if (available & kStacks) process_info::set_hook("cpython.stacks", true);
  return available;
}

}  // namespace

void reset_after_fork() {
  // Copied in the middle of publishing: resolve again rather than trust a half-written table.
  int writing = kWriting;
  g_state.compare_exchange_strong(writing, kAbsent, std::memory_order_relaxed);
}

uint32_t features() {
  if (g_state.load(std::memory_order_acquire) == kResolved) {
    return g_features.load(std::memory_order_relaxed);
  }
  ErrnoSaver errno_saver;
  return resolve();
}

}  // namespace loopsan::cpython
