#include "shim/interceptor.h"

#include <dlfcn.h>

#include "agent/core/process_info.h"

namespace loopsan::shim {

Hook g_hooks[kHookCount] = {
#define LOOPSAN_HOOK(sym, version) {#sym, version, {nullptr}},
#include "shim/hooks.def"
#undef LOOPSAN_HOOK
};

namespace {
// Set while this thread is inside dlsym on our behalf.
__thread int resolving __attribute__((tls_model("initial-exec")));
}  // namespace

void* resolve_hook(HookId id) {
  if (resolving) return nullptr;
  ++resolving;
  Hook& h = g_hooks[id];
  void* fn =
      h.version[0] != '\0' ? dlvsym(RTLD_NEXT, h.symbol, h.version) : dlsym(RTLD_NEXT, h.symbol);
  --resolving;
  if (fn != nullptr) h.real.store(fn, std::memory_order_release);
  return fn;
}

void resolve_all_hooks() {
  for (int i = 0; i < kHookCount; ++i) {
    void* fn = real_function(static_cast<HookId>(i));
    process_info::set_hook(g_hooks[i].symbol, fn != nullptr);
  }
}

}  // namespace loopsan::shim
