// A library built -O2 -g whose exported function inlines two static helpers: the return
// address it hands back lies in code inlined twice, which the symbolizer must name level by
// level.
extern "C" __attribute__((noinline)) void* inline_probe_record() {
  return __builtin_return_address(0);
}

static inline __attribute__((always_inline)) void* probe_inner(int x) {
  void* where = inline_probe_record();  // INNER-CALL
  return x > 0 ? where : nullptr;
}

static inline __attribute__((always_inline)) void* probe_outer(int x) {
  return probe_inner(x + 1);  // OUTER-CALL
}

extern "C" void* inline_probe_entry(int x) {
  return probe_outer(x);  // ENTRY-CALL
}
