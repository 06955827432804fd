#include "agent/runtimes/node_callers.h"

#include <link.h>
#include <unistd.h>

#include <cstring>

#include "agent/base/lock.h"
#include "agent/stacks/elf_symbols.h"
#include "agent/stacks/stack.h"

namespace loopsan::node::callers {
namespace {

// Deep enough for an addon's library between its callback and the blocking call (SQLite's
// fsync is ~15 frames under the callback); below stack_depth's default (64).
constexpr int kScanFrames = 48;

bool starts_with(const std::string& s, const char* prefix) {
  return s.compare(0, strlen(prefix), prefix) == 0;
}

constexpr char kAnonymous[] = "(anonymous namespace)";
constexpr size_t kAnonymousLength = sizeof kAnonymous - 1;

// V8's code, by the namespace of its functions (the public API included) or, for the
// builtins embedded in the executable, by their symbol names.
constexpr const char* kV8Prefixes[] = {
    "v8::", "v8_inspector::", "v8_crdtp::", "cppgc::", "heap::base::", "Builtins_"};
// The V8 functions that call an embedder's API callback: V8's C++ (the interpreter's and
// baseline code's way, VM state EXTERNAL) and the builtins that optimized code calls.
constexpr const char* kInvokerPrefixes[] = {
    "v8::internal::FunctionCallbackArguments::",
    "v8::internal::PropertyCallbackArguments::",
    "v8::internal::(anonymous namespace)::HandleApiCallHelper",
    "v8::internal::Builtin_HandleApiCall",
    "v8::internal::Builtins::InvokeApiFunction",
    "Builtins_CallApiCallback",
    "Builtins_CallApiGetter",
    "Builtins_HandleApiCall",
};

// Verdicts by return address: a direct-mapped cache (a collision only costs a lookup again).
struct Entry {
  uintptr_t ip;
  Kind kind;
};
constexpr size_t kCacheSize = 4096;
Lock cache_lock;
Entry cache[kCacheSize];

size_t slot_of(uintptr_t ip) {
  return static_cast<size_t>((ip * 0x9e3779b97f4a7c15ull) >> 52) & (kCacheSize - 1);
}

struct ModuleQuery {
  uintptr_t address;
  const char* name = nullptr;
  uintptr_t bias = 0;
  bool found = false;
};

int find_module(dl_phdr_info* info, size_t, void* data) {
  auto* q = static_cast<ModuleQuery*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
    if (q->address >= begin && q->address < begin + ph.p_memsz) {
      q->name = info->dlpi_name;
      q->bias = info->dlpi_addr;
      q->found = true;
      return 1;
    }
  }
  return 0;
}

const std::string& executable() {
  static const std::string* path = [] {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    return new std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
  }();
  return *path;
}

Kind classify_ip(uintptr_t ip) {
  // A return address: look up the call instruction, which is inside the caller.
  ModuleQuery q{ip - 1};
  dl_iterate_phdr(find_module, &q);
  if (!q.found) return Kind::kGenerated;
  std::string path = (q.name == nullptr || q.name[0] == '\0') ? executable() : q.name;
  return classify_name(elf_symbols::function_at(path, "", ip - 1 - q.bias));
}

Kind kind_of(uintptr_t ip) {
  size_t slot = slot_of(ip);
  {
    LockGuard g(cache_lock);
    if (cache[slot].ip == ip) return cache[slot].kind;
  }
  Kind kind = classify_ip(ip);
  LockGuard g(cache_lock);
  cache[slot] = Entry{ip, kind};
  return kind;
}

}  // namespace

std::string qualified_name(const std::string& demangled) {
  std::string name = demangled;
  for (const char* thunk : {"non-virtual thunk to ", "virtual thunk to "}) {
    if (starts_with(name, thunk)) name.erase(0, strlen(thunk));
  }
  // Cut at the parameter list; remember where the return type ends (the last space at the
  // outer level: "void v8::internal::CopyChars<...>(...)").
  int angle = 0, brace = 0;
  size_t name_begin = 0, end = name.size();
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '(' && name.compare(i, kAnonymousLength, kAnonymous) == 0) {
      i += kAnonymousLength - 1;
    } else if (c == '<') {
      ++angle;
    } else if (c == '>') {
      if (angle > 0) --angle;
    } else if (c == '{') {
      ++brace;
    } else if (c == '}') {
      if (brace > 0) --brace;
    } else if (angle == 0 && brace == 0) {
      if (c == '(') {
        end = i;
        break;
      }
      if (c == ' ') name_begin = i + 1;
    }
  }
  name = name.substr(name_begin, end - name_begin);
  // Template arguments of the function itself.
  if (!name.empty() && name.back() == '>') {
    int depth = 0;
    for (size_t i = name.size(); i-- > 0;) {
      if (name[i] == '>') ++depth;
      if (name[i] == '<' && --depth == 0) {
        name.resize(i);
        break;
      }
    }
  }
  return name;
}

Kind classify_name(const std::string& demangled) {
  if (demangled.empty()) return Kind::kUnknown;
  std::string name = qualified_name(demangled);
  for (const char* prefix : kInvokerPrefixes) {
    if (starts_with(name, prefix)) return Kind::kInvoker;
  }
  for (const char* prefix : kV8Prefixes) {
    if (starts_with(name, prefix)) return Kind::kV8;
  }
  return Kind::kEmbedder;
}

bool called_from_api_callback() {
  uintptr_t ips[kScanFrames];
  int n = capture_frames(ips, kScanFrames);
  for (int i = 0; i < n; ++i) {
    switch (kind_of(ips[i])) {
      case Kind::kEmbedder:
      case Kind::kUnknown:
        continue;
      case Kind::kInvoker:
      // Generated code calls embedder C++ directly only through the CallApiCallback builtin
      // (which V8 may run from a copy of its builtins outside the executable) or as a fast
      // API call, which node_bridge has already ruled out.
      case Kind::kGenerated:
        return true;
      case Kind::kV8:
        return false;
    }
  }
  return false;
}

void forget_cached() {
  LockGuard g(cache_lock);
  for (Entry& e : cache) e = Entry{0, Kind::kUnknown};
}

void reset_after_fork() {
  if (cache_lock.reset_after_fork()) {
    for (Entry& e : cache) e = Entry{0, Kind::kUnknown};
  }
}

}  // namespace loopsan::node::callers
