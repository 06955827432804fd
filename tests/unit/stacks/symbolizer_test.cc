#include <boost/test/unit_test.hpp>

#include <dlfcn.h>
#include <link.h>

#include <cstdint>
#include <string>
#include <vector>

#include "agent/stacks/depot.h"
#include "agent/stacks/elf_symbols.h"
#include "agent/stacks/stack.h"

namespace {

struct Loaded {
  void* handle = nullptr;
  uintptr_t bias = 0;
  std::string path;
  uintptr_t ip = 0;  // a return address inside loopsan_unload_probe
};

Loaded load_probe() {
  Loaded l;
  l.handle = dlopen(LOOPSAN_TEST_UNLOAD_PROBE, RTLD_NOW | RTLD_LOCAL);
  BOOST_TEST_REQUIRE(l.handle != nullptr);
  void* fn = dlsym(l.handle, "loopsan_unload_probe");
  BOOST_TEST_REQUIRE(fn != nullptr);
  Dl_info info{};
  link_map* map = nullptr;
  BOOST_TEST_REQUIRE(dladdr1(fn, &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) != 0);
  l.bias = map->l_addr;
  l.path = map->l_name;
  l.ip = reinterpret_cast<uintptr_t>(fn) + 1;
  return l;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(symbolizer)

BOOST_AUTO_TEST_CASE(unloaded_library_is_forgotten) {
  Loaded l = load_probe();
  loopsan::StackId id = loopsan::depot::intern(&l.ip, 1);
  std::vector<loopsan::Frame> frames = loopsan::symbolize(id);
  BOOST_TEST_REQUIRE(frames.size() == 1u);
  BOOST_TEST(frames[0].module == l.path);
  BOOST_TEST(frames[0].offset == l.ip - l.bias);
  BOOST_TEST(!frames[0].build_id.empty());
  BOOST_TEST(frames[0].function == "loopsan_unload_probe");
  BOOST_TEST(loopsan::build_id_cached_for_testing(l.bias));
  BOOST_TEST(loopsan::elf_symbols::cached_for_testing(l.path));

  loopsan::library_unloaded(l.bias, l.path.c_str());
  BOOST_TEST(!loopsan::build_id_cached_for_testing(l.bias));
  BOOST_TEST(!loopsan::elf_symbols::cached_for_testing(l.path));
  BOOST_TEST_REQUIRE(dlclose(l.handle) == 0);

  // Loaded again (wherever it lands), it is read again and described the same way.
  Loaded again = load_probe();
  loopsan::StackId id2 = loopsan::depot::intern(&again.ip, 1);
  frames = loopsan::symbolize(id2);
  BOOST_TEST_REQUIRE(frames.size() == 1u);
  BOOST_TEST(frames[0].function == "loopsan_unload_probe");
  BOOST_TEST(!frames[0].build_id.empty());
  BOOST_TEST(loopsan::build_id_cached_for_testing(again.bias));
  loopsan::library_unloaded(again.bias, again.path.c_str());
  dlclose(again.handle);
}

BOOST_AUTO_TEST_SUITE_END()
