#include "agent/report/guilty_frame.h"

#include <cstring>

#include "agent/base/text.h"
#include "agent/stacks/stack.h"

namespace loopsan {
namespace {

bool starts_with(const std::string& s, const char* prefix) {
  return s.compare(0, strlen(prefix), prefix) == 0;
}

// The C and C++ runtimes, the loader, interpreters and loopsan: never the line to fix.
bool system_module(const std::string& path) {
  std::string base = module_basename(path);
  for (const char* p : {"libc.so", "libstdc++.so", "libgcc_s.so", "libm.so", "ld-linux",
                        "libpthread.so", "libloopsan", "libnode.so", "libffi.so", "libpython",
                        "python3", "libuv.so", "libglib-", "libevent"}) {
    if (starts_with(base, p)) return true;
  }
  return base == "node" || base == "nodejs" ||
         (path.find("/lib/python3.") != std::string::npos &&
          path.find("/lib-dynload/") != std::string::npos);
}

// Library machinery compiled into the user's binary (templates, thread start-up).
bool internal_function(const std::string& function) {
  for (const char* name : {"_start", "__libc_start_main", "__libc_start_call_main", "start_thread",
                           "clone", "clone3"}) {
    if (function == name) return true;
  }
  // A demangled template function starts with its return type: "void std::__invoke_impl<...".
  size_t open = function.find_first_of("(<");
  size_t space = function.rfind(' ', open);
  std::string name = space == std::string::npos ? function : function.substr(space + 1);
  for (const char* p : {"std::_", "std::__", "std::thread::_State_impl", "__invoke",
                        "boost::asio::detail::", "asio::detail::", "uv__", "g_main_context_"}) {
    if (starts_with(name, p)) return true;
  }
  return false;
}

std::string python_frame(const std::vector<python::PyFrame>& frames) {
  for (const auto& fr : frames) {
    // pytest and pluggy count as the standard library, as in tools/loopsan/code_owners.cc.
    bool stdlib = (fr.file.find("/lib/python3.") != std::string::npos &&
                   fr.file.find("-packages/") == std::string::npos) ||
                  fr.file.find("/_pytest/") != std::string::npos ||
                  fr.file.find("/pluggy/") != std::string::npos;
    if (stdlib) continue;
    return cat(fr.function, " (", fr.file, ":", fr.line, ")");
  }
  return frames.empty() ? std::string()
                        : cat(frames[0].function, " (", frames[0].file, ":", frames[0].line, ")");
}

std::string native_frame(const std::vector<Frame>& frames) {
  for (const Frame& fr : frames) {
    if (fr.function.empty() || system_module(fr.module) || internal_function(fr.function)) {
      continue;
    }
    return cat(fr.function, " (", module_basename(fr.module), ")");
  }
  return {};
}

}  // namespace

std::string guilty_frame(const Finding& f, const SymbolizedStacks& stacks) {
  for (const char* preferred : {"python_stack", "throw_python_stack", ""}) {
    for (const auto& [name, frames] : f.python_stacks) {
      if (!frames.empty() && (*preferred == 0 || name == preferred)) return python_frame(frames);
    }
  }
  for (const auto& [name, frames] : f.js_stacks) {
    for (const auto& fr : frames) {
      if (starts_with(fr.script, "node:")) continue;
      return cat(fr.function.empty() ? "<anonymous>" : fr.function, " (", fr.script, ":", fr.line,
                 ":", fr.column, ")");
    }
  }
  // Where an exception was thrown says more than where it was dropped.
  for (const char* preferred : {"throw_stack", "stack", "sampled_stack"}) {
    for (const auto& [name, frames] : stacks) {
      if (name != preferred) continue;
      std::string found = native_frame(frames);
      if (!found.empty()) return found;
    }
  }
  for (const auto& [name, frames] : stacks) {
    std::string found = native_frame(frames);
    if (!found.empty()) return found;
  }
  // Nothing of the user's: the innermost named frame still says something.
  for (const auto& [name, frames] : stacks) {
    for (const Frame& fr : frames) {
      if (!fr.function.empty()) return cat(fr.function, " (", module_basename(fr.module), ")");
    }
  }
  return "unknown location";
}

}  // namespace loopsan
