#include "agent/runtimes/cpython_api.h"

#include <dlfcn.h>

#include <boost/test/unit_test.hpp>
#include <set>
#include <string>

#include "agent/core/process_info.h"
#include "agent/runtimes/python_bridge.h"

namespace cpython = loopsan::cpython;

BOOST_AUTO_TEST_SUITE(cpython_api)

BOOST_AUTO_TEST_CASE(table_names_are_unique_and_each_serves_a_feature) {
  std::set<std::string> members, names;
  for (int i = 0; i < cpython::kSymbolCount; ++i) {
    const cpython::SymbolInfo& s = cpython::kSymbols[i];
    BOOST_TEST_CONTEXT(s.name) {
      BOOST_TEST(members.insert(s.member).second);
      BOOST_TEST(names.insert(s.name).second);
      if (s.fallback != nullptr) BOOST_TEST(names.insert(s.fallback).second);
      BOOST_TEST(s.features != 0u);
      BOOST_TEST((s.features & ~uint32_t{cpython::kStacks | cpython::kHooks | cpython::kFrameKeys |
                                         cpython::kThreadStacks}) == 0u);
    }
  }
}

// One case, in order: the table resolves once per process, so "absent" must come first.
BOOST_AUTO_TEST_CASE(absent_until_an_interpreter_is_loaded_then_per_feature) {
  BOOST_TEST(cpython::features() == 0u);
  BOOST_TEST(!loopsan::python::present());
  BOOST_TEST((cpython::api.is_initialized == nullptr));

  // Like an application that embeds Python by dlopen'ing libpython after start-up.
  void* lib = dlopen(LOOPSAN_TEST_FAKE_CPYTHON, RTLD_NOW | RTLD_GLOBAL);
  const char* error = lib == nullptr ? dlerror() : "";
  BOOST_REQUIRE_MESSAGE(lib != nullptr, error);

  BOOST_TEST(cpython::available(cpython::kStacks));
  BOOST_TEST(loopsan::python::present());
  // One hook symbol missing costs the hooks, not the stacks.
  BOOST_TEST(!cpython::available(cpython::kHooks));
  BOOST_TEST(!cpython::available(cpython::kStacks | cpython::kHooks));
  BOOST_TEST(reinterpret_cast<void*>(cpython::api.is_finalizing) == dlsym(lib, "_Py_IsFinalizing"));
  BOOST_TEST(reinterpret_cast<void*>(cpython::api.dump_traceback) ==
             dlsym(lib, "_Py_DumpTraceback"));
  BOOST_TEST(cpython::api.none == dlsym(lib, "_Py_NoneStruct"));
  BOOST_TEST((cpython::api.add_audit_hook == nullptr));
  // No PyCode_Type: no frame keys, which only cheapen repeats.
  BOOST_TEST(!cpython::available(cpython::kFrameKeys));
  std::string start = loopsan::process_info::start_line_json();
  BOOST_TEST(start.find("\"cpython.stacks\":true") != std::string::npos, start);
}

BOOST_AUTO_TEST_SUITE_END()
