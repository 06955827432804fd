// `cmake --install` lays out lib/, bin/, include/ and lib/cmake/loopsan, and a consumer
// project finds it with find_package.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

#include "tests/support/harness.h"

using namespace loopsan::test;
namespace fs = std::filesystem;

BOOST_AUTO_TEST_SUITE(install)

BOOST_AUTO_TEST_CASE(install_layout_and_find_package_consumer) {
  std::string prefix = make_temp_dir();
  RunResult inst = run({.argv = {"cmake", "--install", LOOPSAN_TEST_BINARY_DIR, "--prefix", prefix},
                        .preload = false});
  BOOST_REQUIRE_MESSAGE(inst.exit_code == 0, inst.describe());
  for (const char* p :
       {"lib/libloopsan.so", "bin/loopsan", "include/loopsan/loopsan.h",
        "include/loopsan/loopsan.hpp", "include/loopsan/testing.hpp",
        "include/loopsan/boost_test.hpp", "include/loopsan/gtest.hpp",
        "lib/cmake/loopsan/loopsanConfig.cmake", "lib/cmake/loopsan/loopsanConfigVersion.cmake"}) {
    BOOST_TEST(fs::exists(prefix + "/" + p), p);
  }

  std::string build = make_temp_dir();
  RunResult conf = run({.argv = {"cmake", "-S", LOOPSAN_TEST_CONSUMER_DIR, "-B", build,
                                 "-DCMAKE_PREFIX_PATH=" + prefix},
                        .preload = false});
  BOOST_REQUIRE_MESSAGE(conf.exit_code == 0, conf.describe());
  RunResult make = run({.argv = {"cmake", "--build", build}, .preload = false});
  BOOST_REQUIRE_MESSAGE(make.exit_code == 0, make.describe());
  std::ifstream paths(build + "/paths.txt");
  std::string shim, cli;
  std::getline(paths, shim);
  std::getline(paths, cli);
  BOOST_TEST(fs::equivalent(shim, prefix + "/lib/libloopsan.so"));

  // Without loopsan the API is inert.
  RunResult plain = run({.argv = {build + "/consumer"}, .preload = false});
  BOOST_TEST(plain.out == "active=0 findings=0\n", plain.describe());
  // The installed CLI finds the installed shim next to it.
  std::string dir = make_temp_dir();
  RunResult under =
      run({.argv = {cli, "run", "--report-dir", dir, "--", build + "/consumer"}, .preload = false});
  BOOST_TEST(under.exit_code == 0, under.describe());
  BOOST_TEST(under.out == "active=1 findings=1\n", under.describe());
  BOOST_TEST(read_reports(dir).size() == 1u);
  RunResult cxx =
      run({.argv = {cli, "run", "--report-dir", make_temp_dir(), "--", build + "/consumer_cxx"},
           .preload = false});
  BOOST_TEST(cxx.out == "active=1 delta=0\n", cxx.describe());
}

BOOST_AUTO_TEST_SUITE_END()
