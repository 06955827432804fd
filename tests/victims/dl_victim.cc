// Shared libraries loaded and unloaded at run time, selected by argv[1]:
//   runpath   dlopen() a plugin by bare name: found only through this program's RUNPATH
//             ($ORIGIN/plugins), which glibc reads from dlopen()'s caller.
//   deepbind  the same plugin with RTLD_DEEPBIND, on a loop thread: its sleep bypasses loopsan;
//             then this program's own sleep, which does not.
//   reload    on a loop thread: load plugin 1, let it block the loop, unload it, load plugin 2
//             (a different library, often mapped at the same address), let it block the loop.
#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "loopsan/loopsan.h"

namespace {

int call_plugin(const char* name, int flags) {
  void* handle = dlopen(name, flags);
  if (handle == nullptr) {
    printf("dlopen %s failed: %s\n", name, dlerror());
    return -1;
  }
  auto handler = reinterpret_cast<int (*)()>(dlsym(handle, "plugin_handler"));
  int result = handler != nullptr ? handler() : -1;
  link_map* map = nullptr;
  dlinfo(handle, RTLD_DI_LINKMAP, &map);
  printf("%s: %d at %#lx\n", name, result,
         map != nullptr ? static_cast<unsigned long>(map->l_addr) : 0ul);
  dlclose(handle);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "runpath") return call_plugin("libloopsan_plugin1.so", RTLD_NOW) == 1 ? 0 : 1;
  if (mode == "deepbind") {
    loopsan_loop_enter("deepbind");
    int a = call_plugin("libloopsan_plugin1.so", RTLD_NOW | RTLD_DEEPBIND);
    usleep(1000);
    loopsan_loop_exit();
    return a == 1 ? 0 : 1;
  }
  if (mode == "reload") {
    loopsan_loop_enter("reload");
    int a = call_plugin("libloopsan_plugin1.so", RTLD_NOW);
    int b = call_plugin("libloopsan_plugin2.so", RTLD_NOW);
    loopsan_loop_exit();
    return a == 1 && b == 2 ? 0 : 1;
  }
  fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
  return 2;
}
