#include "agent/stacks/stack.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#define UNW_LOCAL_ONLY
#include <libunwind.h>
// libgcc's unwinder, for fork() children (see unwinder_unusable): its types.
#include <unwind.h>

#include <unordered_map>
#include "agent/stacks/elf_symbols.h"
#include "agent/base/lock.h"
#include "agent/interception/interception.h"
#include "agent/base/options.h"

namespace loopsan {
namespace {

// Address range of loopsan's own executable segment(s), or [0, 0) when the agent is linked
// into a program (unit tests) and nothing should be skipped.
uintptr_t own_begin = 0;
uintptr_t own_end = 0;
CodeRange unwinder;  // libunwind's code

struct RangeQuery {
  uintptr_t address;
  uintptr_t begin;
  uintptr_t end;
};

int find_object_range(dl_phdr_info* info, size_t, void* data) {
  auto* q = static_cast<RangeQuery*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
    if (q->address >= begin && q->address < begin + ph.p_memsz) {
      // Take the whole object: every loadable segment.
      uintptr_t lo = UINTPTR_MAX, hi = 0;
      for (int k = 0; k < info->dlpi_phnum; ++k) {
        const ElfW(Phdr)& p = info->dlpi_phdr[k];
        if (p.p_type != PT_LOAD) continue;
        lo = std::min<uintptr_t>(lo, info->dlpi_addr + p.p_vaddr);
        hi = std::max<uintptr_t>(hi, info->dlpi_addr + p.p_vaddr + p.p_memsz);
      }
      q->begin = lo;
      q->end = hi;
      return 1;
    }
  }
  return 0;
}

// `found` tells an object without a build-id from no object at all (unloaded meanwhile).
std::string read_build_id(uintptr_t load_bias, bool* found) {
  struct Query {
    uintptr_t bias;
    std::string id;
    bool found;
  } q{load_bias, {}, false};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) -> int {
        auto* q = static_cast<Query*>(data);
        if (info->dlpi_addr != q->bias) return 0;
        q->found = true;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_NOTE) continue;
          const char* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
          const char* end = p + ph.p_memsz;
          while (p + sizeof(ElfW(Nhdr)) <= end) {
            const auto* note = reinterpret_cast<const ElfW(Nhdr)*>(p);
            const char* name = p + sizeof(ElfW(Nhdr));
            const char* desc = name + ((note->n_namesz + 3) & ~3u);
            if (desc + note->n_descsz > end) break;
            if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 &&
                memcmp(name, "GNU", 4) == 0) {
              static constexpr char kHex[] = "0123456789abcdef";
              for (unsigned k = 0; k < note->n_descsz; ++k) {
                unsigned char b = static_cast<unsigned char>(desc[k]);
                q->id.push_back(kHex[b >> 4]);
                q->id.push_back(kHex[b & 0xF]);
              }
              return 1;
            }
            p = desc + ((note->n_descsz + 3) & ~3u);
          }
        }
        return 1;
      },
      &q);
  *found = q.found;
  return q.id;
}

std::string executable_path() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// Build-ids per load bias. Filled outside the lock (dl_iterate_phdr takes the loader's lock).
Lock build_id_lock;
std::unordered_map<uintptr_t, std::string>* build_ids = nullptr;
// Bumped by library_unloaded(): a build-id read while a library went away may be the old
// library's, and must not be cached for whatever is mapped at that address next.
uint64_t build_id_generation = 0;

std::string cached_build_id(uintptr_t bias) {
  uint64_t generation;
  {
    LockGuard g(build_id_lock);
    if (build_ids == nullptr) build_ids = new std::unordered_map<uintptr_t, std::string>();
    auto it = build_ids->find(bias);
    if (it != build_ids->end()) return it->second;
    generation = build_id_generation;
  }
  bool found = false;
  std::string id = read_build_id(bias, &found);
  LockGuard g(build_id_lock);
  if (found && generation == build_id_generation) (*build_ids)[bias] = id;
  return id;
}

std::string function_name(const Frame& f, const Dl_info& info, bool have_info) {
  // The call instruction, one byte before the return address.
  if (!f.module.empty()) {
    std::string name = elf_symbols::function_at(f.module, f.build_id, f.offset - 1);
    if (!name.empty()) return name;
  }
  if (have_info && info.dli_sname != nullptr) {
    int status = 0;
    char* demangled = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
    std::string name = status == 0 && demangled ? demangled : info.dli_sname;
    free(demangled);
    return name;
  }
  return {};
}

// libunwind takes pthread mutexes of its own while it unwinds (its memory pools: a thread's
// first trace cache, CFI remember_state; unw_set_caching_policy): a fork() child whose copy
// was taken while another thread was inside libunwind may have one locked for good (seen: a
// child stuck in unw_set_caching_policy). Such a child unwinds with libgcc's
// _Unwind_Backtrace instead, the unwinder every C++ program already relies on across fork():
// slower, as it has no trace cache, but it needs no lock a fork can leave behind.
std::atomic<int> unwinding{0};
std::atomic<bool> unwinder_unusable{false};

// Resolved from libgcc_s itself at start-up: libunwind exports the same names, and which one a
// plain call binds to depends on the link order of whatever loopsan is linked into.
using GccBacktrace = _Unwind_Reason_Code (*)(_Unwind_Trace_Fn, void*);
using GccGetIp = _Unwind_Ptr (*)(_Unwind_Context*);
GccBacktrace gcc_backtrace = nullptr;
GccGetIp gcc_get_ip = nullptr;

void resolve_gcc_unwinder() {
  // Not loaded means not a C++ program's process: nothing to fall back to, no stacks then.
  void* gcc = REAL(dlopen)("libgcc_s.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (gcc == nullptr) return;
  gcc_backtrace = reinterpret_cast<GccBacktrace>(dlsym(gcc, "_Unwind_Backtrace"));
  gcc_get_ip = reinterpret_cast<GccGetIp>(dlsym(gcc, "_Unwind_GetIP"));
}

struct GccTrace {
  uintptr_t* out;
  int size;
  int max;
};

_Unwind_Reason_Code gcc_frame(_Unwind_Context* context, void* data) {
  auto* t = static_cast<GccTrace*>(data);
  _Unwind_Ptr ip = gcc_get_ip(context);
  // libgcc reports one frame past _start, whose return address is null: libunwind stops there.
  if (t->size >= t->max || ip == 0) return _URC_END_OF_STACK;
  t->out[t->size++] = ip;
  return _URC_NO_REASON;
}

}  // namespace

CodeRange code_range_of(const void* address) {
  RangeQuery q{reinterpret_cast<uintptr_t>(address), 0, 0};
  dl_iterate_phdr(find_object_range, &q);
  return CodeRange{q.begin, q.end};
}

void stack_init(const void* own_code) {
  resolve_gcc_unwinder();
  // Known before libunwind initializes: that already opens its pipe (agent/stacks/unwinder_pipe.h).
  unwinder = code_range_of(reinterpret_cast<const void*>(&unw_backtrace));
  if (own_code != nullptr) {
    CodeRange own = code_range_of(own_code);
    own_begin = own.begin;
    own_end = own.end;
  }
}

// libunwind initializes at the first capture, not at start-up: a process that never needs a
// stack never gets its validation pipe (agent/stacks/unwinder_pipe.h).
static void ensure_unwinder() {
  static std::atomic<bool> ready{false};
  if (ready.load(std::memory_order_acquire)) return;
  unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);  // idempotent
  ready.store(true, std::memory_order_release);
}

int capture_frames(uintptr_t* out, int max) {
  int limit = std::min<int>({max, kMaxStackDepth, static_cast<int>(options().stack_depth)});
  if (limit <= 0) return 0;
  // Room for our own frames, which are dropped below.
  constexpr int kOwnFramesSlack = 16;
  uintptr_t ips[kMaxStackDepth + kOwnFramesSlack];
  int n;
  if (unwinder_unusable.load(std::memory_order_relaxed)) {
    GccTrace trace{ips, 0, limit + kOwnFramesSlack};
    if (gcc_backtrace != nullptr && gcc_get_ip != nullptr) gcc_backtrace(gcc_frame, &trace);
    n = trace.size;
  } else {
    unwinding.fetch_add(1, std::memory_order_relaxed);
    ensure_unwinder();
    n = unw_backtrace(reinterpret_cast<void**>(ips), limit + kOwnFramesSlack);
    unwinding.fetch_sub(1, std::memory_order_relaxed);
  }
  // loopsan's own frames are left out wherever they are: the wrappers above the host's call,
  // and the thread-start trampoline below every thread's first function.
  int size = 0;
  for (int i = 0; i < n && size < limit; ++i) {
    if (ips[i] >= own_begin && ips[i] < own_end) continue;
    out[size++] = ips[i];
  }
  return size;
}

int caller_frames(uintptr_t* cfa, uintptr_t* return_address, int max) {
  // Without loopsan's own range (the agent linked into a test program) the caller cannot be
  // told from the agent.
  if (max <= 0 || own_end == 0 || unwinder_unusable.load(std::memory_order_relaxed)) return 0;
  unwinding.fetch_add(1, std::memory_order_relaxed);
  ensure_unwinder();
  int found = 0;
  unw_context_t context;
  unw_cursor_t cursor;
  if (unw_getcontext(&context) == 0 && unw_init_local(&cursor, &context) == 0) {
    // Walk to the first frame outside loopsan (the wrapper's caller). From there each step
    // lands in the caller of the frame before: its SP is that frame's CFA, its IP the return
    // address stored below it.
    bool outside = false;
    for (int depth = 0; depth < 64 && found < max && unw_step(&cursor) > 0; ++depth) {
      unw_word_t ip = 0, sp = 0;
      unw_get_reg(&cursor, UNW_REG_IP, &ip);
      if (!outside) {
        outside = !(ip >= own_begin && ip < own_end);
        continue;
      }
      unw_get_reg(&cursor, UNW_REG_SP, &sp);
      if (sp == 0 || ip == 0) break;
      cfa[found] = sp;
      return_address[found] = ip;
      ++found;
    }
  }
  unwinding.fetch_sub(1, std::memory_order_relaxed);
  return found;
}

int unwind_registers(uintptr_t pc, uintptr_t sp, uintptr_t* out, int max) {
  int limit = std::min<int>({max, kMaxStackDepth, static_cast<int>(options().stack_depth)});
  if (limit <= 0 || pc == 0 || sp == 0 || unwinder_unusable.load(std::memory_order_relaxed)) {
    return 0;
  }
  unwinding.fetch_add(1, std::memory_order_relaxed);
  ensure_unwinder();
  // A context with only the two registers the kernel gave (on x86_64 unw_context_t is a
  // ucontext_t). UNW_INIT_SIGNAL_FRAME: `pc` is where the thread stands, not a return address,
  // so libunwind looks up the frame at pc itself instead of pc - 1.
  unw_context_t context;
  memset(&context, 0, sizeof context);
  unw_cursor_t cursor;
  int size = 0;
#if defined(__x86_64__)
  context.uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(pc);
  context.uc_mcontext.gregs[REG_RSP] = static_cast<greg_t>(sp);
  if (unw_init_local2(&cursor, &context, UNW_INIT_SIGNAL_FRAME) == 0) {
    constexpr int kOwnFramesSlack = 16;
    for (int depth = 0; depth < limit + kOwnFramesSlack && size < limit; ++depth) {
      unw_word_t ip = 0;
      if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0 || ip == 0) break;
      // loopsan's own frames (a wrapper the thread waits in, the thread-start trampoline).
      if (!(ip >= own_begin && ip < own_end)) out[size++] = ip;
      if (unw_step(&cursor) <= 0) break;
    }
  }
#endif
  unwinding.fetch_sub(1, std::memory_order_relaxed);
  return size;
}

StackId capture_stack(int max) {
  uintptr_t ips[kMaxStackDepth];
  int size = capture_frames(ips, max);
  return depot::intern(ips, size);
}

std::vector<Frame> symbolize(StackId id) {
  static const std::string* exe = new std::string(executable_path());
  depot::StackView stack = depot::get(id);
  std::vector<Frame> frames;
  frames.reserve(static_cast<size_t>(stack.size));
  for (int i = 0; i < stack.size; ++i) {
    Frame f;
    f.ip = stack.ips[i];
    // Return addresses point after the call; look up the call instruction itself.
    uintptr_t pc = f.ip > 0 ? f.ip - 1 : 0;
    Dl_info info{};
    link_map* map = nullptr;
    bool have_info = dladdr1(reinterpret_cast<void*>(pc), &info, reinterpret_cast<void**>(&map),
                             RTLD_DL_LINKMAP) != 0;
    if (have_info && map != nullptr) {
      f.module = (map->l_name == nullptr || map->l_name[0] == '\0') ? *exe : map->l_name;
      f.offset = f.ip - map->l_addr;
      f.build_id = cached_build_id(map->l_addr);
    }
    f.function = function_name(f, info, have_info);
    frames.push_back(std::move(f));
  }
  return frames;
}

void library_unloaded(uintptr_t load_bias, const char* path) {
  {
    LockGuard g(build_id_lock);
    ++build_id_generation;
    if (build_ids != nullptr) build_ids->erase(load_bias);
  }
  if (path != nullptr) elf_symbols::forget(path);
}

bool build_id_cached_for_testing(uintptr_t load_bias) {
  LockGuard g(build_id_lock);
  return build_ids != nullptr && build_ids->count(load_bias) != 0;
}

bool is_unwinder_code(const void* address) {
  return unwinder.contains(address);
}

bool is_own_code(uintptr_t address) {
  return address >= own_begin && address < own_end;
}

void use_fork_safe_unwinder_for_testing(bool on) {
  unwinder_unusable.store(on, std::memory_order_relaxed);
}

void stack_reset_after_fork() {
  elf_symbols::reset_after_fork();
  if (build_id_lock.reset_after_fork()) build_ids = nullptr;  // leaked: it was being changed
  if (unwinding.exchange(0, std::memory_order_relaxed) != 0) {
    unwinder_unusable.store(true, std::memory_order_relaxed);
  }
}

std::string module_basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace loopsan
