// dlopen()/dlclose() as events: a library loaded with RTLD_DEEPBIND is reported, and caches
// keyed by a library's address or path are dropped when it is unmapped.
#include <dlfcn.h>

#include "shim/shim.h"

// glibc's dlopen() searches the caller's DT_RUNPATH/DT_RPATH ($ORIGIN) for a name without a
// slash, and finds the caller from its return address. The real dlopen() is therefore called
// in tail position, which the compiler turns into a jump: the caller it sees is the host's, not
// loopsan (tests/integration: dlopen_uses_the_callers_runpath). Nothing can run after it.
LOOPSAN_EXPORT void* dlopen(const char* path, int flags) {
  auto real = REAL(dlopen);
  if (real == nullptr) return nullptr;
  events::library_opening(path, flags);
  return real(path, flags);
}

LOOPSAN_EXPORT int dlclose(void* handle) {
  auto real = REAL(dlclose);
  if (real == nullptr) return -1;
  events::ClosingLibrary library;
  events::library_closing(handle, library);
  int rc = real(handle);
  events::library_closed(library, rc);
  return rc;
}
