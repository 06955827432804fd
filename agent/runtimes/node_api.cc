#include "agent/runtimes/node_api.h"

#include <dlfcn.h>
#include <link.h>

#include <atomic>
#include <string>

#include "agent/base/errno_saver.h"
#include "agent/base/options.h"
#include "agent/core/process_info.h"

namespace loopsan::node_api {

namespace detail {
Api g_table;
}  // namespace detail

const SymbolInfo kSymbols[] = {
#define LOOPSAN_V8_INFO(member, features, name, fallback, ...) {#member, name, fallback, features},
    LOOPSAN_V8_API(LOOPSAN_V8_INFO)
#undef LOOPSAN_V8_INFO
};
const int kSymbolCount = sizeof kSymbols / sizeof kSymbols[0];

namespace {

constexpr char kHook[] = "node_js_stacks";
constexpr char kProbe[] = "_ZN2v87Isolate13TryGetCurrentEv";

enum State : int { kAbsent, kWriting, kResolved };

std::atomic<int> g_state{kAbsent};
std::atomic<uint32_t> g_features{0};
// How many objects the dynamic linker had loaded at the last miss (dl_phdr_info::dlpi_adds):
// looking again is worth it only once that changed.
std::atomic<unsigned long long> g_adds_at_miss{~0ull};

template <typename T>
void lookup(T*& slot, const char* name, const char* fallback) {
  slot = reinterpret_cast<T*>(dlsym(RTLD_DEFAULT, name));
  if (slot == nullptr && fallback != nullptr) {
    slot = reinterpret_cast<T*>(dlsym(RTLD_DEFAULT, fallback));
  }
}

unsigned long long loaded_objects() {
  unsigned long long adds = 0;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t size, void* out) {
        if (size >= offsetof(dl_phdr_info, dlpi_adds) + sizeof info->dlpi_adds) {
          *static_cast<unsigned long long*>(out) = info->dlpi_adds;
        }
        return 1;  // the counter is global: the first object is enough
      },
      &adds);
  return adds;
}

uint32_t usable(uint32_t found) {
  uint32_t usable = found;
  // The stacks need one way to read a frame's line and column.
  if ((found & (kLocation | kLineColumn)) == 0) usable &= ~uint32_t{kStacks};
  return usable;
}

uint32_t resolve() {
  unsigned long long adds = loaded_objects();
  if (adds != 0 && adds == g_adds_at_miss.load(std::memory_order_relaxed)) return 0;
  if (dlsym(RTLD_DEFAULT, kProbe) == nullptr) {
    g_adds_at_miss.store(adds, std::memory_order_relaxed);
    return 0;
  }
  Api probe{};
  uint32_t missing = 0;
#define LOOPSAN_V8_LOOKUP(member, features, name, fallback, ...) \
  lookup(probe.member, name, fallback);                          \
  if (probe.member == nullptr) missing |= (features);
  LOOPSAN_V8_API(LOOPSAN_V8_LOOKUP)
#undef LOOPSAN_V8_LOOKUP
  int expected = kAbsent;
  if (!g_state.compare_exchange_strong(expected, kWriting, std::memory_order_acquire)) {
    // Another thread is publishing the same table: go without this once rather than spin.
    return expected == kResolved ? g_features.load(std::memory_order_relaxed) : 0;
  }
  detail::g_table = probe;
  uint32_t all = kStacks | kLocation | kLineColumn | kTerminating | kLocker | kIsolate | kInterrupt;
  uint32_t available = usable(all & ~missing);
  g_features.store(available, std::memory_order_relaxed);
  g_state.store(kResolved, std::memory_order_release);
  // Said once, when the table is resolved (a V8 without a needed symbol: stacks stay native).
  if (options().js_stacks) process_info::set_hook(kHook, (available & kStacks) != 0);
  return available;
}

}  // namespace

uint32_t features() {
  if (g_state.load(std::memory_order_acquire) == kResolved) {
    return g_features.load(std::memory_order_relaxed);
  }
  ErrnoSaver errno_saver;
  return resolve();
}

bool process_is_node() {
  features();
  if (g_state.load(std::memory_order_acquire) == kResolved) return true;
  const std::string& exe = process_info::exe_basename();
  return exe == "node" || exe == "nodejs";
}

void init() {
  if (!options().js_stacks) return;
  features();
  // node, but no V8 we can find at all (a static build without exported symbols).
  if (g_state.load(std::memory_order_acquire) != kResolved && process_is_node()) {
    process_info::set_hook(kHook, false);
  }
}

void reset_after_fork() {
  int writing = kWriting;
  g_state.compare_exchange_strong(writing, kAbsent, std::memory_order_relaxed);
}

}  // namespace loopsan::node_api
