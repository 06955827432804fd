// What the host sees must not change: return values, errno, thread semantics, exported
// symbols, exceptions.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <regex>
#include <set>

#include "tests/support/harness.h"
#include "tests/support/stacks.h"

using namespace loopsan::test;

BOOST_AUTO_TEST_SUITE(semantics)

BOOST_AUTO_TEST_CASE(errno_and_results_are_unchanged) {
  RunResult with = run({.argv = {victim("errno_victim")}});
  BOOST_TEST(with.exit_code == 0, with.describe());
  BOOST_TEST(with.out.find("ALL PASS") != std::string::npos, with.out);
  // The loop-thread sleeps were findings (loopsan did real work around each call).
  BOOST_TEST(with.findings("blocking-call").size() >= 2u, with.describe());
  // Nothing from inside the SIGCHLD handler: its nanosleep (a finding anywhere else on the
  // loop thread) is not captured there.
  for (const auto& f : with.findings("blocking-call")) {
    BOOST_TEST(!stack_has_function(f["stack"], "sigchld_handler_naps"), with.describe());
  }
  RunResult without = run({.argv = {victim("errno_victim")}, .preload = false});
  BOOST_TEST(without.exit_code == 0, without.describe());
  BOOST_TEST(with.out == without.out);
}

BOOST_AUTO_TEST_CASE(thread_semantics_are_unchanged) {
  RunResult with = run({.argv = {victim("threads_victim")}});
  BOOST_TEST(with.exit_code == 0, with.describe());
  BOOST_TEST(with.out.find("ALL PASS") != std::string::npos, with.out);
  RunResult without = run({.argv = {victim("threads_victim")}, .preload = false});
  BOOST_TEST(with.out == without.out, without.out);
}

BOOST_AUTO_TEST_CASE(python_host_exceptions_and_threads_work_under_the_shim) {
  // A C host (python3) that loads C++ code: exceptions still use libgcc_s.
  RunResult r = run({.argv = {python(), "-c",
                              "import ctypes, threading\n"
                              "lib = ctypes.CDLL(None)\n"
                              "lib.dlsym.restype = ctypes.c_void_p\n"
                              "addr = lib.dlsym(None, b'_Unwind_RaiseException')\n"
                              "info = (ctypes.c_void_p * 4)()\n"
                              "lib.dladdr(ctypes.c_void_p(addr), info)\n"
                              "print(ctypes.cast(info[0], ctypes.c_char_p).value.decode())\n"
                              "t = threading.Thread(target=print, args=('thread ok',))\n"
                              "t.start(); t.join()\n"}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.out.find("libgcc_s") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("thread ok") != std::string::npos, r.out);
}

BOOST_AUTO_TEST_CASE(wrappers_work_before_the_library_constructor) {
  // early_lib's constructor runs before loopsan's: threads, sleeps, close and exceptions
  // go through wrappers whose real functions are resolved on first use.
  RunResult r = run({.argv = {victim("early_victim")}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_TEST(r.out ==
                 "early: active=0 thread=42 close_errno=EBADF sleep=0 caught=1\n"
                 "main: active=1\n",
             r.describe());
}

BOOST_AUTO_TEST_CASE(loopsan_descriptors_stay_out_of_the_hosts_way) {
  // Programs expect open() to return the lowest free number. loopsan's only descriptors
  // without a finding (libunwind's validation pipe, once a stack was captured: here the throw
  // stack of a caught exception) sit at the top of the range.
  RunResult with = run({.argv = {victim("futures_victim"), "descriptors"}});
  RunResult without = run({.argv = {victim("futures_victim"), "descriptors"}, .preload = false});
  BOOST_TEST(with.exit_code == 0, with.describe());
  BOOST_TEST(without.out.find("high=0") != std::string::npos, without.out);
  std::string open_without = without.out.substr(0, without.out.find(' '));
  BOOST_TEST(with.out == open_without + " high=2\n", with.out);
}

BOOST_AUTO_TEST_CASE(loopsan_descriptors_stay_out_of_a_pythons_way) {
  // The same in CPython: loopsan's descriptors once a stack was captured (here for a custom
  // future that failed, its exception retrieved: no finding) sit at the top of the range.
  std::string code =
      "import ctypes, os, threading\n"
      "t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
      "try:\n    int('x')\nexcept ValueError:\n    pass\n"
      "api = ctypes.CDLL(None)\n"
      "if hasattr(api, 'loopsan_future_failed'):\n"
      "    f = ctypes.c_void_p(0x1000)\n"
      "    api.loopsan_future_created(f)\n"
      "    api.loopsan_future_failed(f, b'E', b'lost')\n"
      "    api.loopsan_future_retrieved(f)\n"
      "    api.loopsan_future_destroyed(f)\n"
      "print(sorted(int(f) for f in os.listdir('/proc/self/fd') if int(f) < 900))\n"
      "print(len([f for f in os.listdir('/proc/self/fd') if int(f) >= 900]))\n";
  for (const std::string& py : pythons()) {
    BOOST_TEST_CONTEXT(py) {
      RunResult with = run({.argv = {py, "-c", code}});
      RunResult without = run({.argv = {py, "-c", code}, .preload = false});
      BOOST_TEST(with.exit_code == 0, with.describe());
      std::string low_with = with.out.substr(0, with.out.find('\n'));
      std::string low_without = without.out.substr(0, without.out.find('\n'));
      BOOST_TEST(low_with == low_without);
      BOOST_TEST(with.out.substr(with.out.find('\n') + 1) == "2\n", with.out);
    }
  }
}

BOOST_AUTO_TEST_CASE(shim_exports_only_wrappers_and_the_c_api) {
  std::set<std::string> allowed;
  std::ifstream hooks(LOOPSAN_TEST_HOOKS_DEF);
  std::regex hook_line(R"(^LOOPSAN_[A-Z_]+\([a-z_]+, *([A-Za-z0-9_]+),)");
  std::string line;
  while (std::getline(hooks, line)) {
    std::smatch m;
    if (std::regex_search(line, m, hook_line)) allowed.insert(m[1]);
  }
  BOOST_REQUIRE(allowed.count("nanosleep") == 1u);
  RunResult nm = run({.argv = {"nm", "-D", "--defined-only", shim_path()}, .preload = false});
  BOOST_REQUIRE(nm.exit_code == 0);
  std::istringstream in(nm.out);
  int exported = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string addr, type, name;
    fields >> addr >> type >> name;
    if (name.empty() || type == "A") continue;  // "A": a version node's own symbol
    // An older symbol version (LOOPSAN_COMPAT rows): pthread_cond_wait@GLIBC_2.2.5.
    name = name.substr(0, name.find('@'));
    ++exported;
    bool ok = allowed.count(name) == 1 || name.rfind("loopsan_", 0) == 0;
    BOOST_TEST(ok, "unexpected export: " << line);
  }
  BOOST_TEST(exported >= static_cast<int>(allowed.size()));
}

BOOST_AUTO_TEST_SUITE_END()
