#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "agent/base/options.h"

using loopsan::Options;
using loopsan::parse_options;

BOOST_AUTO_TEST_SUITE(options)

BOOST_AUTO_TEST_CASE(good_values_of_every_type) {
  Options o;
  std::vector<std::string> warnings;
  parse_options("log_to_stderr=0:stack_depth=12,report_dir=/tmp/r verbosity=2", o, warnings);
  BOOST_TEST(warnings.empty());
  BOOST_TEST(o.log_to_stderr == false);
  BOOST_TEST(o.stack_depth == 12);
  BOOST_TEST(o.report_dir == "/tmp/r");
  BOOST_TEST(o.verbosity == 2);
  BOOST_TEST(o.block_threshold_ms == 100);  // untouched default
}

BOOST_AUTO_TEST_CASE(quoted_values_keep_separators) {
  Options o;
  std::vector<std::string> warnings;
  parse_options("report_dir='/tmp/a b:c':loop_threads=\"io-*,net-*\"", o, warnings);
  BOOST_TEST(warnings.empty());
  BOOST_TEST(o.report_dir == "/tmp/a b:c");
  BOOST_TEST(o.loop_threads == "io-*,net-*");
}

BOOST_AUTO_TEST_CASE(bad_value_keeps_default_and_names_key_and_range) {
  Options o;
  std::vector<std::string> warnings;
  parse_options("stack_depth=abc:exitcode=300:log_to_stderr=maybe", o, warnings);
  BOOST_TEST(o.stack_depth == 64);
  BOOST_TEST(o.exitcode == 0);
  BOOST_TEST(o.log_to_stderr == true);
  BOOST_REQUIRE(warnings.size() == 3u);
  BOOST_TEST(warnings[0].find("'stack_depth'") != std::string::npos);
  BOOST_TEST(warnings[0].find("1 to 256") != std::string::npos);
  BOOST_TEST(warnings[1].find("'exitcode'") != std::string::npos);
  BOOST_TEST(warnings[2].find("0 or 1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_key_lists_known_keys) {
  Options o;
  std::vector<std::string> warnings;
  parse_options("stack_dept=3:verbosity=1", o, warnings);
  BOOST_REQUIRE(warnings.size() == 1u);
  BOOST_TEST(warnings[0].find("unknown option 'stack_dept'") != std::string::npos);
  BOOST_TEST(warnings[0].find("stack_depth") != std::string::npos);
  BOOST_TEST(o.verbosity == 1);  // the rest still applies
}

BOOST_AUTO_TEST_CASE(unterminated_quote_and_missing_value) {
  Options o;
  std::vector<std::string> warnings;
  parse_options("stack_depth:report_dir='/tmp/x", o, warnings);
  BOOST_REQUIRE(warnings.size() == 2u);
  std::string all = warnings[0] + "\n" + warnings[1];
  BOOST_TEST(all.find("'stack_depth' needs a value") != std::string::npos, all);
  BOOST_TEST(all.find("unterminated quote in the value of 'report_dir'") != std::string::npos, all);
  BOOST_TEST(o.report_dir.empty());
}

BOOST_AUTO_TEST_CASE(bare_boolean_means_true_and_empty_text_is_fine) {
  Options o;
  std::vector<std::string> warnings;
  parse_options("  help ::,, ", o, warnings);
  BOOST_TEST(warnings.empty());
  BOOST_TEST(o.help == true);
}

BOOST_AUTO_TEST_CASE(help_and_json_come_from_the_same_table) {
  std::string help = loopsan::options_help();
  auto json = nlohmann::json::parse(loopsan::options_json(Options{}));
  for (const auto& [key, value] : json.items()) {
    BOOST_TEST(help.find("  " + key + "=") != std::string::npos, key);
  }
  BOOST_TEST(json["stall_threshold_ms"] == 100);
  BOOST_TEST(json["report_dir"] == "");
}

BOOST_AUTO_TEST_SUITE_END()
