// Shared libraries loaded at run time: dlopen() keeps the host's semantics, RTLD_DEEPBIND is
// reported, and a library unloaded and replaced keeps no stale identity in reports.
#include <boost/test/unit_test.hpp>

#include <regex>

#include "tests/support/harness.h"

using namespace loopsan::test;

namespace {

std::string build_id_of(const std::string& path) {
  RunResult r = run({.argv = {"readelf", "-n", path}, .preload = false});
  std::smatch m;
  static const std::regex kBuildId("Build ID: ([0-9a-f]+)");
  return std::regex_search(r.out, m, kBuildId) ? m[1].str() : "";
}

const nlohmann::json* frame_named(const nlohmann::json& stack, const std::string& function) {
  for (const auto& f : stack) {
    if (f["function"].is_string() && f["function"].get<std::string>() == function) return &f;
  }
  return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(libraries)

BOOST_AUTO_TEST_CASE(dlopen_uses_the_callers_runpath) {
  // The plugin is found only through dl_victim's DT_RUNPATH, which glibc takes from dlopen()'s
  // caller: loopsan's wrapper must not become that caller.
  RunResult without = run({.argv = {victim("dl_victim"), "runpath"}, .preload = false});
  BOOST_REQUIRE_MESSAGE(without.exit_code == 0, without.describe());
  RunResult with = run({.argv = {victim("dl_victim"), "runpath"}});
  BOOST_TEST(with.exit_code == 0, with.describe());
  BOOST_TEST(with.out.rfind("libloopsan_plugin1.so: 1 at 0x", 0) == 0, with.out);
}

BOOST_AUTO_TEST_CASE(rtld_deepbind_is_reported_in_the_start_line_and_summary) {
  // The plugin binds its usleep() to libc directly: loopsan cannot see it, and says so once.
  RunResult r = run({.argv = {victim("dl_victim"), "deepbind"}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_REQUIRE_EQUAL(r.reports.size(), 1u);
  const ReportFile& report = r.reports[0];
  BOOST_REQUIRE_MESSAGE(report.start.contains("deepbind"), report.start.dump());
  BOOST_TEST(report.start["deepbind"] == nlohmann::json::array({"libloopsan_plugin1.so"}));
  BOOST_TEST(report.summary["deepbind"] == nlohmann::json::array({"libloopsan_plugin1.so"}));
  BOOST_TEST(r.err.find("libloopsan_plugin1.so is loaded with RTLD_DEEPBIND") != std::string::npos,
             r.err);
  // Only the program's own sleep is seen.
  auto found = r.findings("blocking-call");
  BOOST_REQUIRE_EQUAL(found.size(), 1u);
  BOOST_TEST(stack_has_function(found[0]["stack"], "main"));
  BOOST_TEST(!stack_has_function(found[0]["stack"], "plugin_handler"));
}

BOOST_AUTO_TEST_CASE(rtld_deepbind_after_the_start_line_is_in_the_summary) {
  RunResult r = run({.argv = {victim("dl_victim"), "deepbind"}, .options = "report_always=1"});
  BOOST_TEST(r.exit_code == 0, r.describe());
  BOOST_REQUIRE_EQUAL(r.reports.size(), 1u);
  BOOST_TEST(!r.reports[0].start.contains("deepbind"));
  BOOST_TEST(r.reports[0].summary["deepbind"] == nlohmann::json::array({"libloopsan_plugin1.so"}));
}

BOOST_AUTO_TEST_CASE(a_library_replaced_after_dlclose_gets_its_own_build_id) {
  // Plugin 1 blocks the loop, is unloaded; plugin 2, a different library, is often mapped at
  // the same address. Each finding must name its own module and build-id.
  RunResult r = run({.argv = {victim("dl_victim"), "reload"}});
  BOOST_TEST(r.exit_code == 0, r.describe());
  // The case that matters: the second library where the first one was. If the loader ever
  // stops reusing the address, this says so instead of passing without testing anything.
  std::smatch m;
  static const std::regex kBiases(
      R"(plugin1.so: 1 at (0x[0-9a-f]+)\n.*plugin2.so: 2 at (0x[0-9a-f]+))");
  std::string out = r.out;
  BOOST_REQUIRE_MESSAGE(std::regex_search(out, m, kBiases), r.out);
  BOOST_TEST(m[1].str() == m[2].str(), "plugin 2 was not mapped where plugin 1 was: " << r.out);
  auto found = r.findings("blocking-call");
  BOOST_REQUIRE_EQUAL(found.size(), 2u);
  for (int variant = 1; variant <= 2; ++variant) {
    const auto& f = found[variant - 1];
    const nlohmann::json* frame = frame_named(f["stack"], "plugin_handler");
    BOOST_REQUIRE_MESSAGE(frame != nullptr, f["stack"].dump());
    std::string module = (*frame)["module"];
    std::string expected = "libloopsan_plugin" + std::to_string(variant) + ".so";
    BOOST_TEST(module.size() >= expected.size());
    BOOST_TEST(module.compare(module.size() - expected.size(), expected.size(), expected) == 0,
               module);
    BOOST_TEST((*frame)["build_id"] == build_id_of(module), f.dump());
  }
}

BOOST_AUTO_TEST_SUITE_END()
