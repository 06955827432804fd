// The node bridge. loopsan never links V8 or node: inside node, V8's public C++ API (the one
// native addons link against) is found at run time with dlsym (node_api.h), and every entry
// point degrades to "no JavaScript" when it is missing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace loopsan::node {

struct JsFrame {
  std::string function;  // empty for an anonymous function
  std::string script;    // the script's name (a path for CommonJS, a URL for ES modules)
  int line = -1;         // 1-based; -1 when V8 could not tell
  int column = -1;       // 1-based; -1 when V8 could not tell
};

// True when the process contains a V8 whose API we can use for stacks, and js_stacks=1.
bool present();

// The JavaScript stack of the calling thread, innermost first, from the innermost frame that
// is not in node's own library (a script named "node:..."): the code that called fs.fsyncSync
// or child_process.execSync comes first, not node's implementation of them (unless no other
// code is on the stack). At most 64 frames are read. Empty
// unless all of these hold: js_stacks=1; the V8 symbols were found; the thread has entered an
// isolate (Isolate::TryGetCurrent), holds its lock and is in a context; the isolate is not
// terminating; the thread's event loop has started (node's bootstrap and the main script's
// top-level code are over: node switches --trace-sync-io on at the same point); JavaScript is
// on the stack and the blocking call was made by an API callback that V8 called for it — one
// of node's bindings or a native addon's — and not by V8 itself (not the garbage collector,
// the compiler, a runtime function, a fast API call or V8's platform calls: there, allocating
// a V8 object is not allowed; see node_callers.h); and this is not a re-entrant call.
//
// It then does what node's --trace-sync-io does (Environment::PrintSyncTrace): opens its own
// HandleScope, takes StackTrace::CurrentStackTrace(isolate, 64, kDetailed) and copies each
// frame's function name, script name, line and column out as UTF-8. Every V8 object it
// creates lives in that scope; nothing it calls runs JavaScript or throws.
std::vector<JsFrame> capture_stack();

// True when the calling thread has entered a V8 isolate (Isolate::TryGetCurrent, a
// thread-local read): node runs its event loop inside the isolate's scope (SpinEventLoop), so
// node's main thread without one is before its loop or tearing down after it (joining its
// platform's workers, libuv's thread pool at exit). False without a usable V8.
bool in_isolate();
// True when the process is node (V8's API is exported, or the executable is node/nodejs).
bool process_is_node();

// A cheap key for where the calling thread's JavaScript is: its innermost 16 frames as V8's
// sampling profiler reads them (an interpreted frame's bytecode array and offset, a compiled
// frame's code address), without allocating. Two calls from the same JavaScript lines give
// the same key while V8 neither moves nor recompiles those functions: what a detector needs
// to count a repeat without taking the stack again, where the native return addresses alone
// cannot tell two interpreted functions apart (they all run in the same interpreter frames).
enum class FrameKey {
  kKey,   // *key is set
  kNoJs,  // no JavaScript on this thread's stack (or no usable V8, or js_stacks=0)
};
FrameKey frame_key(uint64_t* key);

// The JavaScript stack of another thread, stuck in JavaScript (a stalled loop), read the way
// node's --trace-sigint does: V8's Isolate::RequestInterrupt runs a callback on that thread at
// its next interrupt check (a loop back-edge or a call in JavaScript; never inside native
// code), which takes CurrentStackTrace there. `isolate` is the isolate that thread had entered
// (current_isolate(), read on it); the caller guarantees it is alive. Waits `timeout_ns` at
// most: empty when the thread did not get to an interrupt check by then (the callback then
// does nothing when it runs later).
std::vector<JsFrame> interrupt_for_stack(void* isolate, int64_t timeout_ns);
// The calling thread's isolate, from a signal handler (V8's thread-local; no allocation, no
// lock), or null. Resolve with can_interrupt() first, off the handler.
void* current_isolate_signal_safe();
// Whether interrupt_for_stack() can work in this process (node, js_stacks=1, V8's symbols).
bool can_interrupt();

// The module table's hooks (core/module.h).
void reset_after_fork();
void library_unloaded(uintptr_t load_bias, const char* path);

}  // namespace loopsan::node
