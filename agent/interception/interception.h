// Interception: the layer below everything else (after compiler-rt's interception/). It owns the
// table of interposed functions (shim/hooks.def) and knows how to reach the real ones, so that
// the shim's wrappers and the agent alike can call
//
//   REAL(pthread_create)(&thread, nullptr, start, arg);
//
// REAL(f) is usable before any constructor has run and while dlsym itself is resolving (dlsym
// may call calloc or pthread_mutex_lock, which a wrapper may see): it is then null, and the
// caller falls back to a raw system call or the row's "missing" result.
#pragma once

#include <atomic>
#include <cerrno>

namespace loopsan::interception {

enum Need { kRequired, kOptional };

enum HookId {
#define LOOPSAN_HOOK(group, sym, version, need) kHook_##sym,
#define LOOPSAN_BLOCKING(group, sym, ...) kHook_##sym,
#define LOOPSAN_LOOP_WAIT(group, sym, ...) kHook_##sym,
#define LOOPSAN_COMPAT(group, id, sym, version) kHook_##id,
#include "shim/hooks.def"
#undef LOOPSAN_HOOK
#undef LOOPSAN_BLOCKING
#undef LOOPSAN_LOOP_WAIT
#undef LOOPSAN_COMPAT
  kHookCount
};

struct Hook {
  const char* symbol;
  const char* version;  // "" = the default version
  Need need;
  // An older version of a symbol (LOOPSAN_COMPAT): that version or nothing, never the default.
  bool exact_version;
  const char* label;  // its name in the start line's `hooks`
  std::atomic<void*> real;
};

extern Hook g_hooks[kHookCount];

// Looks the real function up, in this order: the given glibc version (dlvsym), the default
// version, then RTLD_DEFAULT for hosts that load loopsan after libc (dlopen rather than
// LD_PRELOAD), rejecting a result that is loopsan's own wrapper. Null when the symbol is
// missing or this thread is already inside dlsym on loopsan's behalf.
// `everywhere`: also look in loaded objects outside the global scope (slow: every object is
// opened by name), which only a wrapper that is actually called needs.
void* resolve(HookId id, bool everywhere = true);

// At start-up: resolves every hook; records which are present in the start line's `hooks`
// object and warns about a missing required one (that feature is then off).
void resolve_all();

inline void* real_function(HookId id) {
  void* fn = g_hooks[id].real.load(std::memory_order_acquire);
  return fn != nullptr ? fn : resolve(id);
}

// A wrapper whose real function is missing: the libc convention for "not implemented", so a
// host probing for a newer function sees it as absent.
inline int missing_errno_result() {
  errno = ENOSYS;
  return -1;
}

}  // namespace loopsan::interception

#define REAL(sym)                      \
  (reinterpret_cast<decltype(&::sym)>( \
      ::loopsan::interception::real_function(::loopsan::interception::kHook_##sym)))
// The real function if it was looked up already, else null (no lookup): for a wrapper's fast
// path, which leaves everything else to a function it tail-calls, so that it needs no frame.
#define REAL_IF_RESOLVED(sym)                                                           \
  (reinterpret_cast<decltype(&::sym)>(                                                  \
      ::loopsan::interception::g_hooks[::loopsan::interception::kHook_##sym].real.load( \
          std::memory_order_acquire)))
// The real function of a LOOPSAN_COMPAT row (an older symbol version of `sym`).
#define REAL_COMPAT(id, sym)           \
  (reinterpret_cast<decltype(&::sym)>( \
      ::loopsan::interception::real_function(::loopsan::interception::kHook_##id)))
