// A library for the symbolizer's dlclose test: loaded, symbolized, unloaded.
extern "C" __attribute__((visibility("default"), noinline)) int loopsan_unload_probe(int x) {
  return x * 3 + 1;
}
