#include "agent/runtimes/python_bridge.h"

#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "agent/base/log.h"
#include "agent/base/options.h"
#include "agent/base/sys.h"
#include "agent/base/text.h"
#include "agent/runtimes/cpython_api.h"
#include "agent/runtimes/python_thread_dump.h"
#include "agent/stacks/stack.h"

namespace loopsan::python {

bool present() {
  return cpython::available(cpython::kStacks);
}

bool thread_runs_python() {
  if (!present()) return false;
  const cpython::Api& a = cpython::api;
  return a.is_initialized() && a.this_thread_state() != nullptr;
}

bool is_interpreter_code(const void* address) {
  if (!present() || address == nullptr) return false;
  static std::atomic<uintptr_t> begin{0}, end{0};
  if (end.load(std::memory_order_acquire) == 0) {
    CodeRange range =
        code_range_of(reinterpret_cast<const void*>(cpython::detail::g_table.is_initialized));
    begin.store(range.begin, std::memory_order_relaxed);
    end.store(range.end, std::memory_order_release);
  }
  auto a = reinterpret_cast<uintptr_t>(address);
  return a >= begin.load(std::memory_order_relaxed) && a < end.load(std::memory_order_acquire);
}

std::vector<PyFrame> parse_dump(const std::string& text) {
  // Lines look like:   File "/path/app.py", line 12 in handler
  // (CPython writes "???" for an unknown line and escapes non-ASCII as \xNN.)
  std::vector<PyFrame> frames;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    static constexpr char kPrefix[] = "  File \"";
    if (line.rfind(kPrefix, 0) != 0) continue;
    size_t file_end = line.rfind("\", line ");
    if (file_end == std::string::npos || file_end < sizeof kPrefix - 1) continue;
    PyFrame f;
    f.file = line.substr(sizeof kPrefix - 1, file_end - (sizeof kPrefix - 1));
    size_t num = file_end + 8;
    size_t in = line.find(" in ", num);
    if (in == std::string::npos) continue;
    std::string number = line.substr(num, in - num);
    f.line = (!number.empty() && number != "???") ? atoi(number.c_str()) : -1;
    f.function = line.substr(in + 4);
    frames.push_back(std::move(f));
  }
  return frames;
}

namespace {

// Where a thread's innermost frame is, for the CPython versions whose layout loopsan knows
// (Include/cpython/pystate.h, Include/internal/pycore_frame.h): PyThreadState.cframe,
// _PyCFrame.current_frame, _PyInterpreterFrame.f_code / .previous / .prev_instr / .is_entry,
// and PyObject.ob_type.
struct FrameLayout {
  size_t cframe, current_frame, f_code, previous, prev_instr, is_entry, ob_type;
};

const FrameLayout* frame_layout() {
  static constexpr FrameLayout k311{56, 8, 32, 48, 56, 68, 8};
  static std::atomic<int> known{-1};  // -1 unknown yet, 0 no, 1 3.11
  int k = known.load(std::memory_order_acquire);
  if (k < 0) {
    const char* version = cpython::api.get_version();
    k = version != nullptr && strncmp(version, "3.11.", 5) == 0 ? 1 : 0;
    known.store(k, std::memory_order_release);
  }
  return k == 1 ? &k311 : nullptr;
}

template <typename T>
T read_at(const void* base, size_t offset) {
  T value;
  memcpy(&value, static_cast<const char*>(base) + offset, sizeof value);
  return value;
}

// The thread's innermost frame, or null when it has none.
void* innermost_frame(void* tstate, const FrameLayout& layout) {
  auto* cframe = read_at<void*>(tstate, layout.cframe);
  return cframe != nullptr ? read_at<void*>(cframe, layout.current_frame) : nullptr;
}

// A frame whose code object really is one: the check that the layout still holds.
bool is_code_frame(void* frame, const FrameLayout& layout) {
  auto* code = read_at<void*>(frame, layout.f_code);
  return code != nullptr && read_at<void*>(code, layout.ob_type) == cpython::api.code_type;
}

// Marks the frames the interpreter entered from C. _Py_DumpTraceback (3.11) prints the same
// chain, one line per frame, so the dump's frames and the chain match one to one; a chain that
// does not (a frame that is not code, a shorter chain) leaves every mark unset.
void mark_entry_frames(std::vector<PyFrame>& frames) {
  void* tstate = cpython::api.this_thread_state();
  const FrameLayout* layout = cpython::available(cpython::kFrameKeys) ? frame_layout() : nullptr;
  void* frame = tstate != nullptr && layout != nullptr ? innermost_frame(tstate, *layout) : nullptr;
  size_t i = 0;
  for (; frame != nullptr && i < frames.size(); ++i) {
    if (!is_code_frame(frame, *layout)) break;
    frames[i].entry = read_at<bool>(frame, layout->is_entry);
    frame = read_at<void*>(frame, layout->previous);
  }
  // The dump stops at 100 frames; a chain that goes on below fewer parsed frames means a line
  // the parser skipped, and every mark after it would be one frame off.
  bool mismatch = i != frames.size() || (frame != nullptr && frames.size() < 100);
  if (mismatch) {
    for (PyFrame& f : frames) f.entry = false;
  }
}

}  // namespace

FrameKey frame_key(uint64_t* key) {
  if (!options().python_stacks || !present()) return FrameKey::kNoPython;
  const cpython::Api& a = cpython::api;
  if (!a.is_initialized() || a.is_finalizing()) return FrameKey::kNoPython;
  void* tstate = a.this_thread_state();
  if (tstate == nullptr) return FrameKey::kNoPython;
  const FrameLayout* layout = cpython::available(cpython::kFrameKeys) ? frame_layout() : nullptr;
  if (layout == nullptr) return FrameKey::kUnknown;
  void* frame = innermost_frame(tstate, *layout);
  uint64_t h = 0xcbf29ce484222325ull;
  int frames = 0;
  // The reporter's identity takes 16 Python frames; so does the key.
  for (; frame != nullptr && frames < 16; ++frames) {
    if (!is_code_frame(frame, *layout)) return FrameKey::kUnknown;
    auto* code = read_at<void*>(frame, layout->f_code);
    auto instr = read_at<uintptr_t>(frame, layout->prev_instr);
    h = (h ^ reinterpret_cast<uintptr_t>(code)) * 0x100000001b3ull;
    h = (h ^ instr) * 0x100000001b3ull;
    frame = read_at<void*>(frame, layout->previous);
  }
  if (frames == 0) return FrameKey::kNoPython;
  *key = h;
  return FrameKey::kKey;
}

namespace {

// Offsets in 3.11's _PyRuntimeState (Include/internal/pycore_runtime.h, pycore_gil.h) and
// PyThreadState (Include/cpython/pystate.h), the same in 3.11.2 and 3.11.7. 3.12 moved the GIL
// into the interpreter; 3.13 publishes its layout in _PyRuntime.debug_offsets.
constexpr size_t kLastHolder = 368, kLocked = 376, kSwitchNumber = 384, kNativeThreadId = 160;
// ceval.gil.cond and .switch_cond (struct _gil_runtime_state in 3.11's
// Include/internal/pycore_gil.h: interval, last_holder, locked, switch_number, cond, mutex,
// switch_cond, switch_mutex), checked with gdb on 3.11.7's libpython.
constexpr size_t kGilCond = 392, kGilSwitchCond = 480;

// _PyRuntime, when its 3.11 layout applies.
const char* runtime_311() {
  if (!present() || !cpython::available(cpython::kFrameKeys) || frame_layout() == nullptr) {
    return nullptr;
  }
  static const char* runtime = static_cast<const char*>(dlsym(RTLD_DEFAULT, "_PyRuntime"));
  return runtime;
}

}  // namespace

int64_t gil_switches() {
  const char* runtime = runtime_311();
  if (runtime == nullptr) return -1;
  return static_cast<int64_t>(__atomic_load_n(
      reinterpret_cast<const unsigned long*>(runtime + kSwitchNumber), __ATOMIC_ACQUIRE));
}

bool gil_conds(uintptr_t* cond, uintptr_t* switch_cond) {
  const char* runtime = runtime_311();
  if (runtime == nullptr) return false;
  *cond = reinterpret_cast<uintptr_t>(runtime + kGilCond);
  *switch_cond = reinterpret_cast<uintptr_t>(runtime + kGilSwitchCond);
  return true;
}

pid_t gil_holder() {
  const char* runtime = runtime_311();
  if (runtime == nullptr) return 0;
  int locked = __atomic_load_n(reinterpret_cast<const int*>(runtime + kLocked), __ATOMIC_ACQUIRE);
  auto* holder =
      __atomic_load_n(reinterpret_cast<char* const*>(runtime + kLastHolder), __ATOMIC_ACQUIRE);
  if (locked == 0 || holder == nullptr) return 0;
  // The holder's thread state may be freed as it exits: read it where a fault cannot happen.
  unsigned long tid = 0;
  if (!sys::read_memory(&tid, holder + kNativeThreadId, sizeof tid)) return 0;
  return static_cast<pid_t>(tid);
}

int open_dump_file() {
  // Above the host's numbers: a host that closes and reopens low descriptors must not meet it.
  int fd = static_cast<int>(sys::call_with(SYS_memfd_create, "loopsan-pystack", MFD_CLOEXEC));
  return fd < 0 ? fd : sys::move_to_high_fd(fd);
}

std::string read_dump_file(int fd) {
  if (fd < 0) return {};
  std::string text;
  off_t size = lseek(fd, 0, SEEK_CUR);
  if (size > 0) {
    text.resize(static_cast<size_t>(size));
    ssize_t n = sys::call_with(SYS_pread64, fd, text.data(), text.size(), 0);
    text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  sys::close(fd);
  return text;
}

// How long a finding waits for the GIL to read the other threads' frames: CPython hands it
// over every 5 ms (sys.getswitchinterval()), so only a thread that keeps it (in C code, or
// hung with it) makes this run out.
constexpr int kThreadDumpTimeoutMs = 250;

ThreadStacks all_thread_stacks() {
  ThreadStacks out;
  if (!options().python_stacks || !present()) return out;
  std::string text;
  if (!python_thread_dump::all_threads(&text, kThreadDumpTimeoutMs)) {
    log_debug(2, "every thread's Python stack: not read (no GIL within 250 ms, or finalizing)");
    return out;
  }
  unsigned long helper = python_thread_dump::helper_thread_id();
  // Sections: "Thread 0x00007f... (most recent call first):" (or "Current thread 0x...")
  // followed by its "  File ..." lines.
  size_t pos = 0;
  while ((pos = text.find("hread 0x", pos)) != std::string::npos) {
    size_t id_at = pos + 6;
    size_t end = text.find("\nCurrent thread 0x", id_at);
    size_t next = text.find("\nThread 0x", id_at);
    if (next < end) end = next;
    if (end == std::string::npos) end = text.size();
    unsigned long id = strtoul(text.c_str() + id_at, nullptr, 16);
    size_t body = text.find('\n', id_at);
    std::vector<PyFrame> frames =
        body < end ? parse_dump(text.substr(body + 1, end - body - 1)) : std::vector<PyFrame>{};
    // Entry marks ("entry") need the thread's own frame chain: left unset here.
    if (id != helper) out.emplace_back(id, std::move(frames));
    pos = end;
  }
  log_debug(2, cat("every thread's Python stack: read holding the GIL, ", out.size(), " threads"));
  return out;
}

std::vector<PyFrame> capture_stack() {
  if (!options().python_stacks) return {};
  if (!present()) return {};
  const cpython::Api& a = cpython::api;
  if (!a.is_initialized() || a.is_finalizing()) return {};
  void* tstate = a.this_thread_state();
  if (tstate == nullptr) return {};
  int fd = open_dump_file();
  if (fd < 0) return {};
  a.dump_traceback(fd, tstate);
  std::vector<PyFrame> frames = parse_dump(read_dump_file(fd));
  mark_entry_frames(frames);
  return frames;
}

}  // namespace loopsan::python
