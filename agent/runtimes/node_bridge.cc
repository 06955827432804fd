#include "agent/runtimes/node_bridge.h"

#include <linux/futex.h>
#include <sys/syscall.h>

#include <atomic>
#include <cstdint>

#include "agent/base/options.h"
#include "agent/base/sys.h"
#include "agent/base/thread_state.h"
#include "agent/core/loop_tracker.h"
#include "agent/runtimes/node_api.h"
#include "agent/runtimes/node_callers.h"

namespace loopsan::node {

namespace {

constexpr int kMaxFrames = 64;
// Longer names (a data: URL as a script name) are cut at a whole UTF-8 character.
constexpr int kMaxNameBytes = 2048;

// Non-zero while this thread is inside capture_stack (V8 may call wrapped functions).
__thread int t_capturing __attribute__((tls_model("initial-exec")));
// This thread's event loop has started once: node's bootstrap and top-level code are over.
__thread int t_loop_started __attribute__((tls_model("initial-exec")));

bool empty(node_api::Local handle) {
  // Null, or a tagged null in a V8 built with direct handles: never a real handle slot.
  return reinterpret_cast<uintptr_t>(handle) < 4096;
}

// Bootstrap is over on this thread once its event loop has started. node runs its bootstrap,
// the main script's top-level code and the nextTicks it queued before the first wait of
// uv_run (where loop_tracker starts the loop), and switches --trace-sync-io on right before
// it; a worker thread does the same with its own loop.
bool loop_started() {
  if (t_loop_started) return true;
  if (!loop_tracker::maybe_loop_thread() || !loop_tracker::is_loop_thread()) return false;
  t_loop_started = 1;
  return true;
}

// Isolate::GetStackSample on the calling thread: the VM state, and up to `limit` JavaScript
// frames as V8's profiler sees them (an interpreted frame as its bytecode array + offset, a
// compiled one as its pc), read without allocating. The walk starts from the isolate's last
// exit frame, so our own registers only have to bound the stack.
__attribute__((noinline)) node_api::SampleInfo sample(const node_api::Api& a,
                                                      node_api::Isolate* isolate, void** frames,
                                                      size_t limit) {
  alignas(16) unsigned char regs[node_api::kRegisterStateBytes] = {};
  a.register_state_construct(regs);
  void** fields = reinterpret_cast<void**>(regs);  // pc, sp, fp, lr, ...
  volatile char here = 0;
  fields[0] = reinterpret_cast<void*>(&sample);
  fields[1] = const_cast<char*>(&here);
  fields[2] = __builtin_frame_address(0);
  fields[3] = nullptr;
  node_api::SampleInfo info{};
  a.get_stack_sample(isolate, regs, frames, limit, &info);
  a.register_state_destruct(regs);
  if (info.frames_count > limit) info.frames_count = 0;
  return info;
}

// First, cheap half of "called from an API callback" (the other half: node_callers.h): the
// isolate runs C++ called from JavaScript, in a VM state where that C++ may be an API callback.
bool in_callback_from_javascript(const node_api::Api& a, node_api::Isolate* isolate) {
  void* frames[1] = {nullptr};
  node_api::SampleInfo info = sample(a, isolate, frames, 1);
  if (info.frames_count == 0) return false;  // no JavaScript on this thread's stack
  // Called through V8's C++ (FunctionCallbackArguments::Call, ExternalCallbackScope).
  if (info.vm_state == node_api::kStateExternal) return true;
  // Called from interpreted, baseline or optimized code through the CallApiCallback builtin,
  // which leaves the state at JS; a fast API call (no exit frame, must not allocate) is the
  // one JS-state C++ call that names its target in external_callback_entry.
  return info.vm_state == node_api::kStateJs && info.external_callback_entry == nullptr;
}

std::string utf8(const node_api::Api& a, node_api::Isolate* isolate, node_api::Local string) {
  if (empty(string)) return {};
  int length = a.string_utf8_length(string, isolate);
  if (length <= 0) return {};
  if (length > kMaxNameBytes) length = kMaxNameBytes;
  std::string out(static_cast<size_t>(length), '\0');
  int written = a.string_write_utf8(string, isolate, out.data(), length, nullptr,
                                    node_api::kNoNullTermination | node_api::kReplaceInvalidUtf8);
  out.resize(written > 0 ? static_cast<size_t>(written) : 0);
  return out;
}

// node's built-in modules: "node:fs", "node:internal/child_process", ...
bool is_node_library(const std::string& script) {
  return script.rfind("node:", 0) == 0;
}

void read_location(const node_api::Api& a, node_api::Local frame, JsFrame& out) {
  if (a.frame_location != nullptr) {
    node_api::Location loc = a.frame_location(frame);  // 0-based
    out.line = loc.line >= 0 ? loc.line + 1 : -1;
    out.column = loc.column >= 0 ? loc.column + 1 : -1;
  } else {
    int line = a.frame_line_number(frame);  // 1-based, 0 when unknown
    int column = a.frame_column(frame);
    out.line = line > 0 ? line : -1;
    out.column = column > 0 ? column : -1;
  }
}

std::vector<JsFrame> capture_in_scope(const node_api::Api& a, node_api::Isolate* isolate) {
  std::vector<JsFrame> frames;
  alignas(16) unsigned char scope[node_api::kHandleScopeBytes];
  a.handle_scope_construct(scope, isolate);
  node_api::Local trace = a.current_stack_trace(isolate, kMaxFrames, node_api::kDetailed);
  int count = empty(trace) ? 0 : a.trace_frame_count(trace);
  for (int i = 0; i < count && i < kMaxFrames; ++i) {
    node_api::Local frame = a.trace_frame(trace, isolate, static_cast<uint32_t>(i));
    if (empty(frame)) continue;
    JsFrame f;
    f.function = utf8(a, isolate, a.frame_function_name(frame));
    f.script = utf8(a, isolate, a.frame_script_name(frame));
    read_location(a, frame, f);
    frames.push_back(std::move(f));
  }
  a.handle_scope_destruct(scope);
  // node's own library (fs.fsyncSync, child_process.execSync) is the JavaScript half of the
  // libc wrapper: the stack starts at the code that called it, unless there is no such code.
  size_t first = 0;
  while (first < frames.size() && is_node_library(frames[first].script)) ++first;
  if (first < frames.size()) frames.erase(frames.begin(), frames.begin() + first);
  return frames;
}

// The one request for another thread's JavaScript stack in flight (interrupt_for_stack).
constexpr uint64_t kWriting = ~uint64_t{0};
std::atomic<uint64_t> interrupt_wanted{0};    // the request the callback should answer, 0: none
std::atomic<uint32_t> interrupt_done{0};      // futex word: bumped when an answer is in
std::atomic<uint64_t> interrupt_answered{0};  // the request `interrupt_frames` answers
// Never destroyed: exit() runs static destructors while the watchdog may still wait for it.
std::vector<JsFrame>& interrupt_frames = *new std::vector<JsFrame>();
uint64_t interrupt_requests = 0;

void on_interrupt(node_api::Isolate* isolate, void* data) {
  auto id = reinterpret_cast<uintptr_t>(data);
  uint64_t expected = id;
  // Stale (the watchdog stopped waiting for it): nothing to do.
  if (!interrupt_wanted.compare_exchange_strong(expected, kWriting, std::memory_order_acq_rel)) {
    return;
  }
  const node_api::Api& a = node_api::api;
  ++tls_state.guard;  // agent work on the host's thread: wrappers pass through
  t_capturing = 1;
  std::vector<JsFrame> frames;
  if (a.in_context(isolate) &&
      (a.is_execution_terminating == nullptr || !a.is_execution_terminating(isolate))) {
    frames = capture_in_scope(a, isolate);
  }
  interrupt_frames = std::move(frames);
  interrupt_answered.store(id, std::memory_order_release);
  t_capturing = 0;
  --tls_state.guard;
  interrupt_wanted.store(0, std::memory_order_release);
  interrupt_done.fetch_add(1, std::memory_order_release);
  sys::call_with(SYS_futex, &interrupt_done, FUTEX_WAKE_PRIVATE, 1);
}

}  // namespace

bool can_interrupt() {
  return present() && node_api::available(node_api::kInterrupt | node_api::kIsolate);
}

void* current_isolate_signal_safe() {
  auto current = node_api::api.try_get_current;
  return current != nullptr ? current() : nullptr;
}

std::vector<JsFrame> interrupt_for_stack(void* isolate, int64_t timeout_ns) {
  if (isolate == nullptr || !can_interrupt()) return {};
  uint64_t id = ++interrupt_requests;
  interrupt_wanted.store(id, std::memory_order_release);
  node_api::api.request_interrupt(isolate, on_interrupt, reinterpret_cast<void*>(id));
  int64_t deadline = sys::monotonic_ns() + timeout_ns;
  for (;;) {
    uint32_t done = interrupt_done.load(std::memory_order_acquire);
    if (interrupt_answered.load(std::memory_order_acquire) == id) {
      return std::move(interrupt_frames);
    }
    int64_t left = deadline - sys::monotonic_ns();
    if (left <= 0) {
      uint64_t expected = id;
      // Give up; a callback already writing is short: wait for it instead.
      if (interrupt_wanted.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) {
        return {};
      }
      if (expected != kWriting) return {};
      deadline = sys::monotonic_ns() + timeout_ns;
      continue;
    }
    timespec ts{left / 1000000000, left % 1000000000};
    sys::call_with(SYS_futex, &interrupt_done, FUTEX_WAIT_PRIVATE, done, &ts);
  }
}

void reset_after_fork() {
  node_api::reset_after_fork();
  callers::reset_after_fork();
}

void library_unloaded(uintptr_t, const char*) {
  callers::forget_cached();
}

bool present() {
  return options().js_stacks && node_api::available(node_api::kStacks);
}

bool process_is_node() {
  return node_api::process_is_node();
}

bool in_isolate() {
  return node_api::available(node_api::kIsolate) && node_api::api.try_get_current() != nullptr;
}

FrameKey frame_key(uint64_t* key) {
  if (t_capturing != 0 || !present()) return FrameKey::kNoJs;
  const node_api::Api& a = node_api::api;
  node_api::Isolate* isolate = a.try_get_current();
  if (isolate == nullptr) return FrameKey::kNoJs;
  if (a.locker_is_locked != nullptr && !a.locker_is_locked(isolate)) return FrameKey::kNoJs;
  // The reporter's identity takes 16 frames; so does the key.
  void* frames[16];
  node_api::SampleInfo info = sample(a, isolate, frames, 16);
  if (info.frames_count == 0) return FrameKey::kNoJs;
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < info.frames_count; ++i) {
    h = (h ^ reinterpret_cast<uintptr_t>(frames[i])) * 0x100000001b3ull;
  }
  *key = h;
  return FrameKey::kKey;
}

std::vector<JsFrame> capture_stack() {
  if (t_capturing != 0 || !present()) return {};
  const node_api::Api& a = node_api::api;
  node_api::Isolate* isolate = a.try_get_current();
  if (isolate == nullptr || !loop_started()) return {};
  // A HandleScope on a thread that does not hold the isolate's Locker is a fatal API error.
  if (a.locker_is_locked != nullptr && !a.locker_is_locked(isolate)) return {};
  if (!a.in_context(isolate)) return {};
  if (a.is_execution_terminating != nullptr && a.is_execution_terminating(isolate)) return {};
  t_capturing = 1;
  std::vector<JsFrame> frames;
  if (in_callback_from_javascript(a, isolate) && callers::called_from_api_callback()) {
    frames = capture_in_scope(a, isolate);
  }
  t_capturing = 0;
  return frames;
}

}  // namespace loopsan::node
