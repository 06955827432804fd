// The CLI's DWARF symbolizer on a real -O2 -g library: every inlined level named, each with the
// file:line where the next level in was called.
#include <boost/test/unit_test.hpp>

#include <dlfcn.h>
#include <stdlib.h>

#include <fstream>
#include <string>

#include "tools/loopsan/dwarf_symbolizer.h"

using loopsan::cli::DwarfSymbolizer;

namespace {

int line_of(const std::string& file, const std::string& marker) {
  std::ifstream in(file);
  std::string text;
  for (int n = 1; std::getline(in, text); ++n) {
    if (text.find(marker) != std::string::npos) return n;
  }
  return -1;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dwarf_symbolizer)

BOOST_AUTO_TEST_CASE(names_every_inlined_level_with_its_line) {
  void* lib = dlopen(LOOPSAN_TEST_INLINE_PROBE, RTLD_NOW | RTLD_LOCAL);
  BOOST_REQUIRE_MESSAGE(lib != nullptr, dlerror());
  auto entry = reinterpret_cast<void* (*)(int)>(dlsym(lib, "inline_probe_entry"));
  BOOST_REQUIRE(entry != nullptr);
  void* ip = entry(1);
  Dl_info info{};
  BOOST_REQUIRE(dladdr(ip, &info) != 0);
  uint64_t offset = reinterpret_cast<uintptr_t>(ip) - reinterpret_cast<uintptr_t>(info.dli_fbase);

  DwarfSymbolizer symbolizer;
  auto chain = symbolizer.locate(info.dli_fname, offset);
  BOOST_REQUIRE_EQUAL(chain.size(), 3u);
  const std::string source = LOOPSAN_TEST_INLINE_PROBE_SOURCE;
  BOOST_TEST(chain[0].function == "probe_inner");  // static: DWARF has no linkage name
  BOOST_TEST(chain[0].line == line_of(source, "INNER-CALL"));
  BOOST_TEST(chain[0].file.find("inline_probe.cc") != std::string::npos, chain[0].file);
  BOOST_TEST(chain[1].function == "probe_outer");
  BOOST_TEST(chain[1].line == line_of(source, "OUTER-CALL"));
  BOOST_TEST(chain[2].function == "inline_probe_entry");
  BOOST_TEST(chain[2].line == line_of(source, "ENTRY-CALL"));
  // The same answer from the cache.
  BOOST_TEST(symbolizer.locate(info.dli_fname, offset).size() == 3u);
  dlclose(lib);
}

// Debian's -dbgsym layout: the library is stripped and its DWARF lives in a separate file that
// its .gnu_debuglink names; and a library with no debug information at all.
BOOST_AUTO_TEST_CASE(debug_info_in_a_separate_file_and_none_at_all) {
  void* lib = dlopen(LOOPSAN_TEST_INLINE_PROBE, RTLD_NOW | RTLD_LOCAL);
  BOOST_REQUIRE_MESSAGE(lib != nullptr, dlerror());
  auto entry = reinterpret_cast<void* (*)(int)>(dlsym(lib, "inline_probe_entry"));
  void* ip = entry(1);
  Dl_info info{};
  BOOST_REQUIRE(dladdr(ip, &info) != 0);
  uint64_t offset = reinterpret_cast<uintptr_t>(ip) - reinterpret_cast<uintptr_t>(info.dli_fbase);
  std::string original = info.dli_fname;
  dlclose(lib);

  char dir_template[] = "/tmp/loopsan-dwarf-XXXXXX";
  std::string dir = mkdtemp(dir_template);
  std::string stripped = dir + "/libprobe.so", debug = dir + "/libprobe.so.debug",
              bare = dir + "/libbare.so";
  std::string commands = "objcopy --only-keep-debug '" + original + "' '" + debug +
                         "' && objcopy --strip-debug --add-gnu-debuglink='" + debug + "' '" +
                         original + "' '" + stripped + "' && objcopy --strip-debug '" + original +
                         "' '" + bare + "'";
  BOOST_REQUIRE(system(commands.c_str()) == 0);

  DwarfSymbolizer symbolizer;
  auto chain = symbolizer.locate(stripped, offset);
  BOOST_REQUIRE_EQUAL(chain.size(), 3u);
  BOOST_TEST(chain[0].function == "probe_inner");
  BOOST_TEST(chain[0].line == line_of(LOOPSAN_TEST_INLINE_PROBE_SOURCE, "INNER-CALL"));

  // No DWARF: the symbol table's name of the out-of-line function, no file:line.
  auto bare_chain = symbolizer.locate(bare, offset);
  BOOST_REQUIRE_EQUAL(bare_chain.size(), 1u);
  BOOST_TEST(bare_chain[0].function == "inline_probe_entry");
  BOOST_TEST(bare_chain[0].line == 0);
  system(("rm -rf '" + dir + "'").c_str());
}

BOOST_AUTO_TEST_CASE(a_missing_module_gives_nothing_and_no_error) {
  DwarfSymbolizer symbolizer;
  BOOST_TEST(symbolizer.locate("/nonexistent/libnothing.so", 0x1234).empty());
}

BOOST_AUTO_TEST_SUITE_END()
