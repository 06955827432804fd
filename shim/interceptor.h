// The shim's vocabulary for interposed functions (after compiler-rt's interception library):
//
//   LOOPSAN_EXPORT int nanosleep(const timespec* req, timespec* rem) {
//     ...
//     return REAL(nanosleep)(req, rem);
//   }
//
// Every symbol is listed in hooks.def. REAL(sym) is the next definition after ours (libc's),
// resolved once; it is usable before the library constructor has run.
#pragma once

#include <atomic>
#include <cerrno>

namespace loopsan::shim {

enum HookId {
#define LOOPSAN_HOOK(sym, version) kHook_##sym,
#include "shim/hooks.def"
#undef LOOPSAN_HOOK
  kHookCount
};

struct Hook {
  const char* symbol;
  const char* version;  // "" = default version
  std::atomic<void*> real;
};

extern Hook g_hooks[kHookCount];

// Resolves one hook with dlsym(RTLD_NEXT) / dlvsym. Returns null if the symbol is missing, or
// if this thread is already inside dlsym (dlsym may call functions we intercept): every
// wrapper checks for null and falls back to missing_errno_result() or a raw system call.
void* resolve_hook(HookId id);
// From the constructor: resolves every hook and records in the start line which are present.
void resolve_all_hooks();

inline void* real_function(HookId id) {
  void* fn = g_hooks[id].real.load(std::memory_order_acquire);
  return fn != nullptr ? fn : resolve_hook(id);
}

// What a wrapper returns when its real function is missing: the libc convention for "not
// implemented", so a host probing for a newer function sees it as absent.
inline int missing_errno_result() {
  errno = ENOSYS;
  return -1;
}

}  // namespace loopsan::shim

#define REAL(sym) \
  (reinterpret_cast<decltype(&::sym)>(::loopsan::shim::real_function(::loopsan::shim::kHook_##sym)))

#define LOOPSAN_EXPORT extern "C" __attribute__((visibility("default")))
