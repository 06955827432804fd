// A plugin the dl_victim loads by name through its RUNPATH. Built twice (PLUGIN_VARIANT 1 and
// 2) into two libraries with different code, hence different build-ids.
#include <unistd.h>

#ifndef PLUGIN_VARIANT
#define PLUGIN_VARIANT 1
#endif

#if PLUGIN_VARIANT == 2
// Moves plugin_handler to another offset: the two plugins' frames must not look alike.
extern "C" __attribute__((noinline, used)) int plugin_padding(int x) {
  return x * 3 + PLUGIN_VARIANT;
}
#endif

extern "C" __attribute__((noinline)) int plugin_handler() {
  usleep(1000 * PLUGIN_VARIANT);  // blocks the caller's event loop
  return PLUGIN_VARIANT;
}
