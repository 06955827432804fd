// Known loop functions of event-loop libraries: from the call to its return the thread runs that
// library's loop, and code after the return is not a loop any more, even though the loop's
// epoll set stays open until the program frees the loop. The libraries are not linked: their
// real functions are looked up when first called (interception resolves a symbol in any loaded
// object, including plugins dlopen'ed with RTLD_LOCAL).
#include "shim/shim.h"

// Declared here without the libraries' headers; the opaque pointer types do not matter to
// the ABI.
extern "C" {
int uv_run(void* loop, int mode);
int event_base_loop(void* base, int flags);
int event_base_dispatch(void* base);
int g_main_context_iteration(void* context, int may_block);
void g_main_loop_run(void* loop);
}

namespace {

// The library's loop runs for the lifetime of this object.
struct LibraryLoop {
  LibraryLoop() { events::library_loop_entered(); }
  ~LibraryLoop() { events::library_loop_returned(); }
  LibraryLoop(const LibraryLoop&) = delete;
  LibraryLoop& operator=(const LibraryLoop&) = delete;
};

}  // namespace

LOOPSAN_EXPORT int uv_run(void* loop, int mode) {
  auto real = REAL(uv_run);
  if (real == nullptr) return 0;  // unreachable: only libuv's users call it
  LibraryLoop running;
  return real(loop, mode);
}

LOOPSAN_EXPORT int event_base_loop(void* base, int flags) {
  auto real = REAL(event_base_loop);
  if (real == nullptr) return -1;
  LibraryLoop running;
  return real(base, flags);
}

LOOPSAN_EXPORT int event_base_dispatch(void* base) {
  auto real = REAL(event_base_dispatch);
  if (real == nullptr) return -1;
  LibraryLoop running;
  return real(base);
}

LOOPSAN_EXPORT int g_main_context_iteration(void* context, int may_block) {
  auto real = REAL(g_main_context_iteration);
  if (real == nullptr) return 0;
  LibraryLoop running;
  return real(context, may_block);
}

LOOPSAN_EXPORT void g_main_loop_run(void* loop) {
  auto real = REAL(g_main_loop_run);
  if (real == nullptr) return;
  LibraryLoop running;
  real(loop);
}
