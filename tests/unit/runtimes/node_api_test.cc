#include "agent/runtimes/node_api.h"

#include <dlfcn.h>

#include <boost/test/unit_test.hpp>
#include <set>
#include <string>

#include "agent/core/process_info.h"
#include "agent/runtimes/node_bridge.h"

namespace node_api = loopsan::node_api;

BOOST_AUTO_TEST_SUITE(node_api_table)

BOOST_AUTO_TEST_CASE(table_names_are_unique_mangled_v8_names) {
  std::set<std::string> members, names;
  for (int i = 0; i < node_api::kSymbolCount; ++i) {
    const node_api::SymbolInfo& s = node_api::kSymbols[i];
    BOOST_TEST_CONTEXT(s.name) {
      BOOST_TEST(members.insert(s.member).second);
      BOOST_TEST(names.insert(s.name).second);
      if (s.fallback != nullptr) BOOST_TEST(names.insert(s.fallback).second);
      BOOST_TEST(s.features != 0u);
      BOOST_TEST((std::string(s.name).rfind("_ZN2v8", 0) == 0 ||
                  std::string(s.name).rfind("_ZNK2v8", 0) == 0));
    }
  }
}

// One case, in order: the table resolves once per process, so "absent" must come first.
BOOST_AUTO_TEST_CASE(absent_until_v8_is_loaded_then_missing_one_symbol_costs_the_stacks) {
  BOOST_TEST(node_api::features() == 0u);
  BOOST_TEST(!loopsan::node::present());
  BOOST_TEST(loopsan::node::capture_stack().empty());
  BOOST_TEST(loopsan::process_info::start_line_json().find("node_js_stacks") == std::string::npos);

  // Like an embedder that dlopen's libnode after start-up.
  void* lib = dlopen(LOOPSAN_TEST_FAKE_V8, RTLD_NOW | RTLD_GLOBAL);
  const char* error = lib == nullptr ? dlerror() : "";
  BOOST_REQUIRE_MESSAGE(lib != nullptr, error);

  uint32_t f = node_api::features();
  BOOST_TEST(!(f & node_api::kStacks), "String::WriteUtf8 is missing");
  BOOST_TEST(!(f & node_api::kLocation));
  BOOST_TEST((f & node_api::kLineColumn));
  BOOST_TEST((f & node_api::kTerminating));
  BOOST_TEST((f & node_api::kIsolate), "what the loop tracker needs does not need the stacks");
  BOOST_TEST(reinterpret_cast<void*>(node_api::api.frame_script_name) ==
             dlsym(lib, "_ZNK2v810StackFrame13GetScriptNameEv"));
  BOOST_TEST((node_api::api.string_write_utf8 == nullptr));
  BOOST_TEST(!loopsan::node::present());
  BOOST_TEST(loopsan::node::capture_stack().empty());
  std::string start = loopsan::process_info::start_line_json();
  BOOST_TEST(start.find("\"node_js_stacks\":false") != std::string::npos, start);
}

BOOST_AUTO_TEST_SUITE_END()
