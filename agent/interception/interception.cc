#include "agent/interception/interception.h"

#include <dlfcn.h>

#include "agent/base/log.h"
#include "agent/base/text.h"
#include "agent/core/process_info.h"

namespace loopsan::interception {

Hook g_hooks[kHookCount] = {
#define LOOPSAN_HOOK(group, sym, version, need) {#sym, version, need, {nullptr}},
#define LOOPSAN_BLOCKING(group, sym, ...) {#sym, "", kOptional, {nullptr}},
#define LOOPSAN_LOOP_WAIT(group, sym, ...) {#sym, "", kOptional, {nullptr}},
#include "shim/hooks.def"
#undef LOOPSAN_HOOK
#undef LOOPSAN_BLOCKING
#undef LOOPSAN_LOOP_WAIT
};

namespace {

// Set while this thread is inside dlsym on our behalf.
__thread int resolving __attribute__((tls_model("initial-exec")));

// The object this code was linked into (libloopsan.so, or a unit-test binary).
bool is_ours(void* fn) {
  Dl_info mine{}, theirs{};
  return dladdr(reinterpret_cast<void*>(&g_hooks), &mine) != 0 && dladdr(fn, &theirs) != 0 &&
         mine.dli_fbase == theirs.dli_fbase;
}

void* lookup(const Hook& h) {
  void* fn = nullptr;
  if (h.version[0] != '\0') fn = dlvsym(RTLD_NEXT, h.symbol, h.version);
  if (fn == nullptr) fn = dlsym(RTLD_NEXT, h.symbol);
  if (fn == nullptr) {
    // Nothing after us defines it: libc came first in the search order.
    fn = dlsym(RTLD_DEFAULT, h.symbol);
    if (fn != nullptr && is_ours(fn)) fn = nullptr;
  }
  return fn;
}

}  // namespace

void* resolve(HookId id) {
  if (resolving) return nullptr;
  ++resolving;
  Hook& h = g_hooks[id];
  void* fn = lookup(h);
  --resolving;
  if (fn != nullptr) h.real.store(fn, std::memory_order_release);
  return fn;
}

void resolve_all() {
  for (int i = 0; i < kHookCount; ++i) {
    const Hook& h = g_hooks[i];
    bool present = real_function(static_cast<HookId>(i)) != nullptr;
    process_info::set_hook(h.symbol, present);
    if (!present && h.need == kRequired) {
      log_line(cat("warning: ", h.symbol,
                   " not found in this process; what loopsan does "
                   "through it is off (see the start line's \"hooks\")"));
    }
  }
}

}  // namespace loopsan::interception
