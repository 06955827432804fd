// Who made the blocking call, inside node: an embedder's callback that V8 called for
// JavaScript (node's bindings, a native addon), or V8 itself.
//
// node_bridge takes a JavaScript stack by allocating V8 objects. That is allowed in an API
// callback (node's --trace-sync-io does it from its fs bindings) and nowhere inside V8: a V8
// mutex or condition wait that returns into a stack capture would allocate while V8 holds the
// lock (the allocation or the garbage collection it starts may take the same lock) and raw
// object pointers (which a collection moves). The VM state (node_bridge.cc) rules out the
// garbage collector, the compiler and the V8 API; what remains — runtime functions and C
// functions called from generated code, V8's platform calls into node — is told apart here
// from the native stack: between the blocking call and the first V8 frame there must be only
// embedder code, and that V8 frame must be one that calls API callbacks (or generated code,
// which calls C++ directly only through such a builtin or as a fast API call).
#pragma once

#include <cstdint>
#include <string>

namespace loopsan::node::callers {

enum class Kind {
  kEmbedder,   // a named function outside V8: node, libuv, an addon, a library
  kUnknown,    // inside a loaded object, but no symbol covers it
  kInvoker,    // V8 code that calls an API callback (FunctionCallbackArguments::Call, ...)
  kV8,         // any other V8 code (v8::, v8_inspector::, cppgc::, embedded builtins)
  kGenerated,  // outside every loaded object: code V8 generated (JIT)
};

// The function name of a demangled C++ symbol, without return type, template arguments or
// parameters ("v8::internal::(anonymous namespace)::HandleApiCallHelper"). For unit tests.
std::string qualified_name(const std::string& demangled);

// The Kind of a function by its (demangled) symbol name; kUnknown for an empty one.
Kind classify_name(const std::string& demangled);

// True when the calling thread's native stack, from the caller of the blocking function
// outwards, reaches a V8 API-callback invoker or generated code through embedder (or
// unnamed) frames only.
// Verdicts are cached by return address; costs an unwind of up to 48 frames.
bool called_from_api_callback();

// A library was unloaded (dlclose): its addresses may hold other code from now on.
void forget_cached();
// In a fork() child.
void reset_after_fork();

}  // namespace loopsan::node::callers
