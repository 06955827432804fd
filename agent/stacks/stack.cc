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

#include <unordered_map>
#include "agent/stacks/elf_symbols.h"
#include "agent/base/lock.h"
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

}  // namespace

CodeRange code_range_of(const void* address) {
  RangeQuery q{reinterpret_cast<uintptr_t>(address), 0, 0};
  dl_iterate_phdr(find_object_range, &q);
  return CodeRange{q.begin, q.end};
}

void stack_init(const void* own_code) {
  // Known before libunwind initializes: that already opens its pipe (agent/stacks/unwinder_pipe.h).
  unwinder = code_range_of(reinterpret_cast<const void*>(&unw_backtrace));
  if (own_code != nullptr) {
    CodeRange own = code_range_of(own_code);
    own_begin = own.begin;
    own_end = own.end;
  }
}

// libunwind keeps pthread mutexes of its own (its caches, its memory pools). A fork() while
// another thread is inside libunwind would leave the child one of them locked for good: seen
// as a child stuck in unw_set_caching_policy (tests/integration/lifecycle_test.cc,
// children_forked_while_other_threads_use_the_agent_are_whole). So fork() waits until no
// thread is inside libunwind, and no thread enters it until fork() is done: captures are the
// readers of a tiny reader/writer gate, fork the writer. Sequentially consistent on both
// sides (store, then load the other's variable): neither may miss the other.
namespace {

std::atomic<int> unwinding{0};
std::atomic<bool> fork_pending{false};

class UnwinderGate {
 public:
  UnwinderGate() {
    for (;;) {
      while (fork_pending.load()) syscall(SYS_sched_yield);
      unwinding.fetch_add(1);
      if (!fork_pending.load()) return;
      unwinding.fetch_sub(1);
    }
  }
  ~UnwinderGate() { unwinding.fetch_sub(1); }
  UnwinderGate(const UnwinderGate&) = delete;
  UnwinderGate& operator=(const UnwinderGate&) = delete;
};

}  // namespace

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
  {
    UnwinderGate gate;
    ensure_unwinder();
    n = unw_backtrace(reinterpret_cast<void**>(ips), limit + kOwnFramesSlack);
  }
  int first = 0;
  while (first < n && ips[first] >= own_begin && ips[first] < own_end) ++first;
  int size = std::min(n - first, limit);
  memcpy(out, ips + first, sizeof(uintptr_t) * static_cast<size_t>(std::max(size, 0)));
  return std::max(size, 0);
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

void stack_before_fork() {
  build_id_lock.fork_prepare();
  elf_symbols::before_fork();
  // Bounded like Lock::fork_prepare: a capture interrupted on this very thread by the signal
  // handler that forks would never leave.
  fork_pending.store(true);
  for (int i = 0; i < 100000 && unwinding.load() != 0; ++i) syscall(SYS_sched_yield);
}

void stack_after_fork_parent() {
  fork_pending.store(false);
  elf_symbols::after_fork_parent();
  build_id_lock.fork_parent();
}

void stack_reset_after_fork() {
  // The threads that were waiting at the gate do not exist here.
  unwinding.store(0);
  fork_pending.store(false);
  build_id_lock.fork_child();
  elf_symbols::reset_after_fork();
}

std::string module_basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace loopsan
