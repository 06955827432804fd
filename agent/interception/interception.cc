#include "agent/interception/interception.h"

#include <dlfcn.h>
#include <link.h>

#include <sys/mman.h>

#include <cstring>
#include <new>

#include "agent/base/log.h"
#include "agent/base/text.h"
#include "agent/core/process_info.h"

namespace loopsan::interception {

Hook g_hooks[kHookCount] = {
#define LOOPSAN_HOOK(group, sym, version, need) {#sym, version, need, false, #sym, {nullptr}},
#define LOOPSAN_BLOCKING(group, sym, ...) {#sym, "", kOptional, false, #sym, {nullptr}},
#define LOOPSAN_LOOP_WAIT(group, sym, ...) {#sym, "", kOptional, false, #sym, {nullptr}},
#define LOOPSAN_COMPAT(group, id, sym, version) \
  {#sym, version, kOptional, true, #sym "@" version, {nullptr}},
#include "shim/hooks.def"
#undef LOOPSAN_HOOK
#undef LOOPSAN_BLOCKING
#undef LOOPSAN_LOOP_WAIT
#undef LOOPSAN_COMPAT
};

namespace {

#if defined(__x86_64__)
constexpr char kGlibcBaseVersion[] = "GLIBC_2.2.5";
#elif defined(__aarch64__)
constexpr char kGlibcBaseVersion[] = "GLIBC_2.17";
#else
constexpr char kGlibcBaseVersion[] = "GLIBC_2.0";
#endif

// Set while this thread is inside dlsym on our behalf.
__thread int resolving __attribute__((tls_model("initial-exec")));

// The object this code was linked into (libloopsan.so, or a unit-test binary).
bool is_ours(void* fn) {
  Dl_info mine{}, theirs{};
  return dladdr(reinterpret_cast<void*>(&g_hooks), &mine) != 0 && dladdr(fn, &theirs) != 0 &&
         mine.dli_fbase == theirs.dli_fbase;
}

// Copies of the loaded objects' names (a concurrent dlclose may free the loader's).
struct LoadedObjects {
  static constexpr int kMax = 512;
  static constexpr size_t kText = 64 * 1024;
  const char* names[kMax];
  char text[kText];
  size_t used = 0;
  int count = 0;
};

int collect_object(dl_phdr_info* info, size_t, void* data) {
  auto* objects = static_cast<LoadedObjects*>(data);
  if (info->dlpi_name == nullptr || info->dlpi_name[0] == '\0') return 0;
  size_t len = strlen(info->dlpi_name) + 1;
  if (objects->count >= LoadedObjects::kMax || objects->used + len > LoadedObjects::kText) return 1;
  char* copy = objects->text + objects->used;
  memcpy(copy, info->dlpi_name, len);
  objects->used += len;
  objects->names[objects->count++] = copy;
  return 0;
}

// A library outside the global scope (dlopen'ed with RTLD_LOCAL, or a dependency of such a
// plugin) is still reachable by its own handle: a plugin linked with libuv calls our uv_run.
// The handles are taken after dl_iterate_phdr returns, not under the loader lock it holds.
void* search_loaded_objects(const char* symbol) {
  auto real_dlopen = reinterpret_cast<decltype(&::dlopen)>(g_hooks[kHook_dlopen].real.load());
  auto real_dlclose = reinterpret_cast<decltype(&::dlclose)>(g_hooks[kHook_dlclose].real.load());
  if (real_dlopen == nullptr || real_dlclose == nullptr) return nullptr;
  // Its own copy per call (mmap: no allocator, no lock to wait for): two threads making their
  // first uv_run at once must both find it.
  void* mem = mmap(nullptr, sizeof(LoadedObjects), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  auto* objects = new (mem) LoadedObjects;
  dl_iterate_phdr(collect_object, objects);
  void* found = nullptr;
  for (int i = 0; i < objects->count && found == nullptr; ++i) {
    void* handle = real_dlopen(objects->names[i], RTLD_LAZY | RTLD_NOLOAD);
    if (handle == nullptr) continue;
    void* fn = dlsym(handle, symbol);
    if (fn != nullptr && !is_ours(fn)) found = fn;
    real_dlclose(handle);
  }
  munmap(mem, sizeof(LoadedObjects));
  return found;
}

void* lookup(const Hook& h, bool everywhere) {
  void* fn = nullptr;
  if (h.version[0] != '\0') fn = dlvsym(RTLD_NEXT, h.symbol, h.version);
  if (h.exact_version) return fn;
  if (fn == nullptr) fn = dlsym(RTLD_NEXT, h.symbol);
  // A symbol glibc keeps only as a compatibility version (__res_query since 2.34) has no
  // default version for dlsym to find: its first version is the architecture's base one.
  if (fn == nullptr) fn = dlvsym(RTLD_NEXT, h.symbol, kGlibcBaseVersion);
  if (fn == nullptr) {
    // Nothing after us defines it: libc came first in the search order.
    fn = dlsym(RTLD_DEFAULT, h.symbol);
    if (fn != nullptr && is_ours(fn)) fn = nullptr;
  }
  if (fn == nullptr && everywhere && h.need == kOptional) fn = search_loaded_objects(h.symbol);
  return fn;
}

}  // namespace

void* resolve(HookId id, bool everywhere) {
  if (resolving) return nullptr;
  ++resolving;
  Hook& h = g_hooks[id];
  void* fn = lookup(h, everywhere);
  --resolving;
  if (fn != nullptr) h.real.store(fn, std::memory_order_release);
  return fn;
}

void resolve_all() {
  for (int i = 0; i < kHookCount; ++i) {
    const Hook& h = g_hooks[i];
    // Not searched everywhere at start-up: a library loop function found later, when first
    // called, is found then.
    bool present = h.real.load(std::memory_order_acquire) != nullptr ||
                   resolve(static_cast<HookId>(i), false) != nullptr;
    process_info::set_hook(h.label, present);
    if (!present && h.need == kRequired) {
      log_line(cat("warning: ", h.symbol,
                   " not found in this process; what loopsan does "
                   "through it is off (see the start line's \"hooks\")"));
    }
  }
}

}  // namespace loopsan::interception
