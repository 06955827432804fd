#include "tools/loopsan/code_owners.h"

#include "tools/loopsan/report_json.h"

namespace loopsan::cli {

namespace {

bool starts_with_any(const std::string& text, std::initializer_list<const char*> prefixes) {
  for (const char* p : prefixes) {
    if (text.rfind(p, 0) == 0) return true;
  }
  return false;
}

}  // namespace

bool interpreter_module(const std::string& module) {
  return starts_with_any(basename_of(module), {"libpython", "python3"}) ||
         (module.find("/lib/python3.") != std::string::npos &&
          module.find("/lib-dynload/") != std::string::npos);
}

bool system_module(const std::string& module) {
  std::string base = basename_of(module);
  return interpreter_module(module) || base == "node" || base == "nodejs" ||
         starts_with_any(basename_of(module),
                         {"libc.so", "libstdc++.so", "libgcc_s.so", "libm.so", "ld-linux",
                          "libpthread.so", "libloopsan", "libnode.so", "libffi.so"});
}

bool stdlib_python(const std::string& file) {
  // The test runner counts as the standard library: a future that pytest's fixture teardown
  // drops is the test's, not runtestprotocol's (agent/report/guilty_frame.cc agrees).
  if (file.find("/_pytest/") != std::string::npos || file.find("/pluggy/") != std::string::npos) {
    return true;
  }
  return file.find("/lib/python3.") != std::string::npos &&
         file.find("-packages/") == std::string::npos;
}

bool library_internal(const std::string& function, const std::string& file,
                      const std::string& module) {
  // Where every process and thread starts: under the user's outermost frame, never news.
  static const char* const kStarts[] = {"_start",
                                        "__libc_start_main",
                                        "__libc_start_main_impl",
                                        "__libc_start_call_main",
                                        "start_thread",
                                        "clone",
                                        "clone3"};
  for (const char* name : kStarts) {
    if (function == name) return true;
  }
  // A demangled template function starts with its return type: "void std::__invoke_impl<...".
  size_t open = function.find_first_of("(<");
  size_t space = function.rfind(' ', open);
  std::string name = space == std::string::npos ? function : function.substr(space + 1);
  return starts_with_any(name, {"boost::asio::detail::", "asio::detail::", "std::_", "std::__",
                                "std::thread::_State_impl", "std::thread::thread<",
                                "std::jthread::jthread<", "__invoke", "uv__", "g_main_context_"}) ||
         file.find("/boost/asio/detail/") != std::string::npos ||
         file.find("/include/c++/") != std::string::npos ||
         starts_with_any(basename_of(module), {"libffi.so"});
}

}  // namespace loopsan::cli
