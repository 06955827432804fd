// The slice of V8's public C++ API that loopsan calls inside node, declared once. loopsan never
// links V8 or includes its headers: node exports V8's API for native addons (NodeSource's
// `node` from the executable, Debian's from libnode.so.N), and the functions are found at run
// time with dlsym(RTLD_DEFAULT) under their Itanium-mangled names.
//
// Calling conventions, as the x86-64/AArch64 ABIs give them for these classes:
// - a non-static member function takes `this` first: the object pointer of the API, which for
//   a Local<T> is the Local's only field (the handle slot);
// - Local<T> (one pointer, trivially copyable) is returned in a register, like a void*;
// - v8::Location (two ints, trivially copyable) is returned in a register, like `Location`
//   below;
// - HandleScope and RegisterState are constructed and destroyed through their exported
//   constructors and destructors, in buffers larger than the real objects (kHandleScopeBytes,
//   kRegisterStateBytes).
#pragma once

#include <cstddef>
#include <cstdint>

namespace loopsan::node_api {

using Local = void*;                // v8::Local<T>: the handle slot, or null when empty
using Isolate = void;               // v8::Isolate*
using CurrentIsolate = Isolate*();  // v8::Isolate::TryGetCurrent
struct Location {                   // v8::Location: 0-based line and column
  int line;
  int column;
};

// v8::StackTrace::kDetailed: line, column, script name, function name, eval, constructor,
// script name or sourceURL. Same value in V8 10.x and 11.x.
constexpr int kDetailed = 0x7f;
// v8::StateTag (v8-unwinder.h), same values in V8 10.x and 11.x. JS: running JavaScript, or
// C++ that generated code called directly (an API callback through the CallApiCallback
// builtin, a runtime function, a fast API call); EXTERNAL: an embedder's (node's) C++ callback
// called through V8's C++. The others (GC, PARSER, BYTECODE_COMPILER, COMPILER, OTHER: inside
// the V8 API, ATOMICS_WAIT, IDLE) never come from a callback.
constexpr int kStateJs = 0;
constexpr int kStateExternal = 6;

// Sizes of the objects we construct in our own buffers. The real ones are 3 pointers
// (HandleScope) and 5 (RegisterState: pc, sp, fp, lr, callee_saved).
constexpr size_t kHandleScopeBytes = 64;
constexpr size_t kRegisterStateBytes = 96;

// What v8::Isolate::GetStackSample fills (v8::SampleInfo in V8 10.x and 11.x): frames_count at
// offset 0, vm_state at offset 32; the spare bytes absorb fields a later V8 may append.
struct SampleInfo {
  size_t frames_count;
  void* external_callback_entry;
  void* context;
  void* embedder_context;
  int vm_state;
  int embedder_state;
  char spare[64];
};
static_assert(offsetof(SampleInfo, vm_state) == 32);

// What a group of symbols makes possible.
enum Feature : uint32_t {
  kStacks = 1u << 0,  // JavaScript stacks in findings (node_bridge.cc)
  // Where a frame's line and column come from: V8 >= 10 exports StackFrame::GetLocation();
  // older ones GetLineNumber()/GetColumn() (1-based). kStacks needs one of the two.
  kLocation = 1u << 1,
  kLineColumn = 1u << 2,
  // Optional checks, used when present.
  kTerminating = 1u << 3,
  kLocker = 1u << 4,
  // Whether the calling thread is in an isolate (node::in_isolate), whatever js_stacks says.
  kIsolate = 1u << 5,
  // Asking another thread's isolate for its JavaScript stack (a stalled loop's).
  kInterrupt = 1u << 6,
};

// LOOPSAN_V8_SYMBOL(member, features, name, fallback, type): as in cpython_api.h. `fallback`
// is looked up when `name` is missing (another V8 version's name for the same function).
#define LOOPSAN_V8_API(X)                                                                          \
  X(try_get_current, kStacks | kIsolate, "_ZN2v87Isolate13TryGetCurrentEv", nullptr,               \
    CurrentIsolate)                                                                                \
  X(in_context, kStacks, "_ZN2v87Isolate9InContextEv", nullptr, bool(Isolate*))                    \
  /* Runs a callback on the isolate's thread at its next interrupt check; thread-safe. */          \
  X(request_interrupt, kInterrupt, "_ZN2v87Isolate16RequestInterruptEPFvPS0_PvES2_", nullptr,      \
    void(Isolate*, void (*)(Isolate*, void*), void*))                                              \
  X(is_execution_terminating, kTerminating, "_ZN2v87Isolate22IsExecutionTerminatingEv", nullptr,   \
    bool(Isolate*))                                                                                \
  X(locker_is_locked, kLocker, "_ZN2v86Locker8IsLockedEPNS_7IsolateE", nullptr, bool(Isolate*))    \
  X(get_stack_sample, kStacks,                                                                     \
    "_ZN2v87Isolate14GetStackSampleERKNS_13RegisterStateEPPvmPNS_10SampleInfoE", nullptr,          \
    void(Isolate*, const void* register_state, void** frames, size_t limit, SampleInfo*))          \
  X(register_state_construct, kStacks, "_ZN2v813RegisterStateC1Ev", nullptr, void(void*))          \
  X(register_state_destruct, kStacks, "_ZN2v813RegisterStateD1Ev", nullptr, void(void*))           \
  X(handle_scope_construct, kStacks, "_ZN2v811HandleScopeC1EPNS_7IsolateE", nullptr,               \
    void(void* scope, Isolate*))                                                                   \
  X(handle_scope_destruct, kStacks, "_ZN2v811HandleScopeD1Ev", nullptr, void(void* scope))         \
  X(current_stack_trace, kStacks,                                                                  \
    "_ZN2v810StackTrace17CurrentStackTraceEPNS_7IsolateEiNS0_17StackTraceOptionsE", nullptr,       \
    Local(Isolate*, int frame_limit, int options))                                                 \
  X(trace_frame_count, kStacks, "_ZNK2v810StackTrace13GetFrameCountEv", nullptr, int(Local trace)) \
  X(trace_frame, kStacks, "_ZNK2v810StackTrace8GetFrameEPNS_7IsolateEj", nullptr,                  \
    Local(Local trace, Isolate*, uint32_t index))                                                  \
  X(frame_function_name, kStacks, "_ZNK2v810StackFrame15GetFunctionNameEv", nullptr,               \
    Local(Local frame))                                                                            \
  /* The script's name, or its //# sourceURL when it has none (eval, new Function). */             \
  X(frame_script_name, kStacks, "_ZNK2v810StackFrame24GetScriptNameOrSourceURLEv",                 \
    "_ZNK2v810StackFrame13GetScriptNameEv", Local(Local frame))                                    \
  X(frame_location, kLocation, "_ZNK2v810StackFrame11GetLocationEv", nullptr,                      \
    Location(Local frame))                                                                         \
  X(frame_line_number, kLineColumn, "_ZNK2v810StackFrame13GetLineNumberEv", nullptr,               \
    int(Local frame))                                                                              \
  X(frame_column, kLineColumn, "_ZNK2v810StackFrame9GetColumnEv", nullptr, int(Local frame))       \
  X(string_utf8_length, kStacks, "_ZNK2v86String10Utf8LengthEPNS_7IsolateE", nullptr,              \
    int(Local string, Isolate*))                                                                   \
  X(string_write_utf8, kStacks, "_ZNK2v86String9WriteUtf8EPNS_7IsolateEPciPii", nullptr,           \
    int(Local string, Isolate*, char* buffer, int capacity, int* chars_written, int options))

// v8::String::WriteOptions.
constexpr int kNoNullTermination = 2;
constexpr int kReplaceInvalidUtf8 = 8;

template <typename T>
using Ptr = T*;

struct Api {
#define LOOPSAN_V8_MEMBER(member, features, name, fallback, ...) Ptr<__VA_ARGS__> member;
  LOOPSAN_V8_API(LOOPSAN_V8_MEMBER)
#undef LOOPSAN_V8_MEMBER
};

// Which Features the process's V8 supports, resolving the table on the first call that finds
// V8 (Isolate::TryGetCurrent) and never again after that. A miss is retried only after the
// process loaded another object (an embedder may dlopen libnode later). Thread-safe; calls
// dlsym/dl_iterate_phdr while V8 is absent, so not for signal handlers.
uint32_t features();

// True when the process is node: V8's API is exported, or the executable is called node or
// nodejs (a node whose V8 we cannot use, which the start line must say).
bool process_is_node();

// Resolves the table now and records "node_js_stacks" in the start line when the process is
// node (at start-up, so that the first report file has it).
void init();

// In a fork() child (core/module.h).
void reset_after_fork();

inline bool available(uint32_t wanted) {
  return (features() & wanted) == wanted;
}

namespace detail {
extern Api g_table;
}  // namespace detail

// The table. Call a member only after available() said yes for a feature that needs it.
inline constexpr const Api& api = detail::g_table;

// Each symbol's description, for tests and diagnostics.
struct SymbolInfo {
  const char* member;
  const char* name;
  const char* fallback;
  uint32_t features;
};
extern const SymbolInfo kSymbols[];
extern const int kSymbolCount;

}  // namespace loopsan::node_api
