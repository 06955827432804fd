// The CLI's DWARF symbolizer on a real -O2 -g library: every inlined level named, each with the
// file:line where the next level in was called; its DWARF found in the places Debian puts it
// and in directories given to it; files that are not ELF, or not whole, and offsets beyond a
// module give nothing, quietly.
#include <boost/test/unit_test.hpp>

#include <dlfcn.h>
#include <signal.h>
#include <elfutils/libdwfl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "tools/loopsan/dwarf_symbolizer.h"

using loopsan::cli::DwarfSymbolizer;
using loopsan::cli::SourceLocation;

namespace {

int line_of(const std::string& file, const std::string& marker) {
  std::ifstream in(file);
  std::string text;
  for (int n = 1; std::getline(in, text); ++n) {
    if (text.find(marker) != std::string::npos) return n;
  }
  return -1;
}

// The probe library's file and the offset (from its load bias) of the return address it hands
// back: in probe_inner, inlined into probe_outer, inlined into inline_probe_entry.
struct ProbeFrame {
  std::string module;
  uint64_t offset = 0;
};

ProbeFrame probe_frame() {
  void* lib = dlopen(LOOPSAN_TEST_INLINE_PROBE, RTLD_NOW | RTLD_LOCAL);
  BOOST_REQUIRE_MESSAGE(lib != nullptr, dlerror());
  auto entry = reinterpret_cast<void* (*)(int)>(dlsym(lib, "inline_probe_entry"));
  BOOST_REQUIRE(entry != nullptr);
  void* ip = entry(1);
  Dl_info info{};
  BOOST_REQUIRE(dladdr(ip, &info) != 0);
  ProbeFrame frame{info.dli_fname,
                   reinterpret_cast<uintptr_t>(ip) - reinterpret_cast<uintptr_t>(info.dli_fbase)};
  dlclose(lib);
  return frame;
}

// The three levels at the probe's return address, innermost first.
void check_probe_chain(const std::vector<SourceLocation>& chain) {
  BOOST_REQUIRE_EQUAL(chain.size(), 3u);
  const std::string source = LOOPSAN_TEST_INLINE_PROBE_SOURCE;
  BOOST_TEST(chain[0].function == "probe_inner");  // static: DWARF has no linkage name
  BOOST_TEST(chain[0].line == line_of(source, "INNER-CALL"));
  BOOST_TEST(chain[0].file.find("inline_probe.cc") != std::string::npos, chain[0].file);
  BOOST_TEST(chain[1].function == "probe_outer");
  BOOST_TEST(chain[1].line == line_of(source, "OUTER-CALL"));
  BOOST_TEST(chain[2].function == "inline_probe_entry");
  BOOST_TEST(chain[2].line == line_of(source, "ENTRY-CALL"));
}

// A directory under /tmp, removed with what it holds.
struct TempDir {
  std::string path;
  TempDir() {
    char name[] = "/tmp/loopsan-dwarf-XXXXXX";
    BOOST_REQUIRE(mkdtemp(name) != nullptr);
    path = name;
  }
  ~TempDir() {
    std::error_code error;
    std::filesystem::remove_all(path, error);
  }
};

void shell(const std::string& command) {
  BOOST_REQUIRE_MESSAGE(system(command.c_str()) == 0, command);
}

// Everything written to stderr (fd 2) while it lives.
class StderrCapture {
 public:
  StderrCapture() : file_(tmpfile()), saved_(dup(2)) {
    BOOST_REQUIRE(file_ != nullptr && saved_ >= 0);
    fflush(stderr);
    dup2(fileno(file_), 2);
  }
  ~StderrCapture() {
    restore();
    fclose(file_);
  }
  std::string text() {
    restore();
    std::string all;
    rewind(file_);
    for (int c; (c = fgetc(file_)) != EOF;) all += static_cast<char>(c);
    return all;
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    fflush(stderr);
    dup2(saved_, 2);
    close(saved_);
    saved_ = -1;
  }
  FILE* file_;
  int saved_;
};

// The module's GNU build-id in hex, as the .build-id/ directories spell it.
std::string build_id_of(const std::string& path) {
  static const Dwfl_Callbacks callbacks = {
      .find_elf = dwfl_build_id_find_elf,
      .find_debuginfo = dwfl_standard_find_debuginfo,
      .section_address = dwfl_offline_section_address,
      .debuginfo_path = nullptr,
  };
  Dwfl* dwfl = dwfl_begin(&callbacks);
  dwfl_report_begin(dwfl);
  Dwfl_Module* module = dwfl_report_offline(dwfl, path.c_str(), path.c_str(), -1);
  dwfl_report_end(dwfl, nullptr, nullptr);
  const unsigned char* bits = nullptr;
  GElf_Addr vaddr = 0;
  int size = module != nullptr ? dwfl_module_build_id(module, &bits, &vaddr) : -1;
  std::string hex;
  for (int i = 0; i < size; ++i) {
    char byte[3];
    snprintf(byte, sizeof byte, "%02x", bits[i]);
    hex += byte;
  }
  dwfl_end(dwfl);
  return hex;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dwarf_symbolizer)

BOOST_AUTO_TEST_CASE(names_every_inlined_level_with_its_line) {
  ProbeFrame probe = probe_frame();
  DwarfSymbolizer symbolizer;
  check_probe_chain(symbolizer.locate(probe.module, probe.offset));
  // The same answer from the cache, and for callers that want lines only.
  check_probe_chain(symbolizer.locate(probe.module, probe.offset));
  check_probe_chain(symbolizer.locate_lines(probe.module, probe.offset));
}

// Debian's -dbgsym layout: the library is stripped and its DWARF lives in a separate file that
// its .gnu_debuglink names; and a library with no debug information at all.
BOOST_AUTO_TEST_CASE(debug_info_in_a_separate_file_and_none_at_all) {
  ProbeFrame probe = probe_frame();
  TempDir dir;
  std::string stripped = dir.path + "/libprobe.so", debug = dir.path + "/libprobe.so.debug",
              bare = dir.path + "/libbare.so";
  shell("objcopy --only-keep-debug '" + probe.module + "' '" + debug +
        "' && objcopy --strip-debug --add-gnu-debuglink='" + debug + "' '" + probe.module + "' '" +
        stripped + "' && objcopy --strip-debug '" + probe.module + "' '" + bare + "'");

  DwarfSymbolizer symbolizer;
  check_probe_chain(symbolizer.locate(stripped, probe.offset));

  // No DWARF: the symbol table's name of the out-of-line function, no file:line.
  auto bare_chain = symbolizer.locate(bare, probe.offset);
  BOOST_REQUIRE_EQUAL(bare_chain.size(), 1u);
  BOOST_TEST(bare_chain[0].function == "inline_probe_entry");
  BOOST_TEST(bare_chain[0].line == 0);
  BOOST_TEST(symbolizer.locate_lines(bare, probe.offset).empty());
}

// A debug file found by build-id only (no .gnu_debuglink) in a directory given to the
// symbolizer, laid out as /usr/lib/debug is: DIR/.build-id/xx/rest.debug.
BOOST_AUTO_TEST_CASE(debug_info_by_build_id_in_a_given_directory) {
  ProbeFrame probe = probe_frame();
  std::string id = build_id_of(probe.module);
  BOOST_REQUIRE_MESSAGE(id.size() > 2, "no build-id in " << probe.module);
  TempDir dir;
  std::string stripped = dir.path + "/lib/libprobe.so";
  std::string id_dir = dir.path + "/debug/.build-id/" + id.substr(0, 2);
  shell("mkdir -p '" + dir.path + "/lib' '" + id_dir + "' && objcopy --only-keep-debug '" +
        probe.module + "' '" + id_dir + "/" + id.substr(2) + ".debug' && objcopy --strip-debug '" +
        probe.module + "' '" + stripped + "'");

  StderrCapture errors;
  {
    DwarfSymbolizer symbolizer({dir.path + "/debug"});
    check_probe_chain(symbolizer.locate(stripped, probe.offset));
  }
  {
    // A relative directory is taken from the working directory.
    std::string cwd = std::filesystem::current_path().string();
    BOOST_REQUIRE(chdir(dir.path.c_str()) == 0);
    DwarfSymbolizer symbolizer({"debug"});
    BOOST_REQUIRE(chdir(cwd.c_str()) == 0);
    check_probe_chain(symbolizer.locate(stripped, probe.offset));
  }
  {
    // Without it: the symbol table's name, no line.
    DwarfSymbolizer symbolizer;
    auto chain = symbolizer.locate(stripped, probe.offset);
    BOOST_REQUIRE_EQUAL(chain.size(), 1u);
    BOOST_TEST(chain[0].function == "inline_probe_entry");
    BOOST_TEST(chain[0].line == 0);
    BOOST_TEST(chain[0].file.empty());
  }
  BOOST_TEST(errors.text().empty());
}

BOOST_AUTO_TEST_CASE(a_missing_module_gives_nothing_and_no_error) {
  DwarfSymbolizer symbolizer;
  BOOST_TEST(symbolizer.locate("/nonexistent/libnothing.so", 0x1234).empty());
}

// A report names whatever path the process had mapped; by the time it is read that path may be
// anything. No file:line then, nothing on stderr, and no wait (a FIFO would block in open()).
BOOST_AUTO_TEST_CASE(what_is_not_a_whole_elf_file_and_offsets_beyond_one_give_no_line) {
  ProbeFrame probe = probe_frame();
  TempDir dir;
  std::string text = dir.path + "/text.so", header = dir.path + "/header.so",
              half = dir.path + "/half.so", fifo = dir.path + "/fifo.so";
  auto size = std::filesystem::file_size(probe.module);
  shell("echo 'not an ELF file' > '" + text + "' && head -c 64 '" + probe.module + "' > '" +
        header + "' && head -c " + std::to_string(size / 2) + " '" + probe.module + "' > '" + half +
        "'");
  BOOST_REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);

  // A regression that blocks ends the run with a message instead of hanging it.
  signal(SIGALRM, [](int) {
    static const char kMessage[] = "dwarf_symbolizer test: a lookup blocked for 60 s\n";
    write(1, kMessage, sizeof kMessage - 1);
    _exit(1);
  });
  alarm(60);
  StderrCapture errors;
  DwarfSymbolizer symbolizer;
  for (const std::string& module : {text, header, half, fifo, dir.path, std::string("/dev/null")}) {
    // At most the symbol table's name (a truncated copy keeps its dynamic symbols).
    for (const SourceLocation& loc : symbolizer.locate(module, probe.offset)) {
      BOOST_TEST(loc.line == 0, module);
      BOOST_TEST(loc.file.empty(), module);
    }
    BOOST_TEST(symbolizer.locate_lines(module, probe.offset).empty(), module);
  }
  for (uint64_t offset : {uint64_t{size} + 0x100000, uint64_t{1} << 40, ~uint64_t{0}}) {
    BOOST_TEST(symbolizer.locate(probe.module, offset).empty(), offset);
    BOOST_TEST(symbolizer.locate_lines(probe.module, offset).empty(), offset);
  }
  // The module itself still answers.
  check_probe_chain(symbolizer.locate(probe.module, probe.offset));
  alarm(0);
  signal(SIGALRM, SIG_DFL);
  BOOST_TEST(errors.text().empty());
}

BOOST_AUTO_TEST_SUITE_END()
