#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "agent/base/json.h"

using loopsan::json_quote;
using loopsan::JsonWriter;

BOOST_AUTO_TEST_SUITE(json_writer)

BOOST_AUTO_TEST_CASE(hostile_strings_round_trip_or_become_replacement_characters) {
  const std::string hostile[] = {
      "quote \" backslash \\ slash /",
      std::string("nul \0 inside", 12),
      "control \x01\x1f\x7f tab\t newline\n cr\r",
      "utf-8 ok: h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80",
      "</script>{\"type\":\"summary\"}",
  };
  for (const std::string& s : hostile) {
    std::string line = json_quote(s);
    BOOST_TEST(line.find('\n') == std::string::npos);
    BOOST_TEST(nlohmann::json::parse(line).get<std::string>() == s);
  }
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_replaced_not_passed_through) {
  const std::string invalid[] = {"\xFF", "\xC0\xAF", "\xED\xA0\x80", "trunc \xE2\x9C", "\x80x"};
  for (const std::string& s : invalid) {
    auto parsed = nlohmann::json::parse(json_quote(s)).get<std::string>();
    BOOST_TEST(parsed.find("\xEF\xBF\xBD") != std::string::npos, "U+FFFD in output");
  }
}

BOOST_AUTO_TEST_CASE(writer_builds_one_valid_object) {
  JsonWriter w;
  w.begin_object().field("type", "finding").field("n", int64_t{-3}).field("ok", true);
  w.key("list").begin_array().value("a").value(uint64_t{7}).null().end_array();
  w.key("ip").hex(0xdeadbeef);
  w.key("nested").raw("{\"x\":1}");
  w.end_object();
  auto j = nlohmann::json::parse(w.str());
  BOOST_TEST(j["type"] == "finding");
  BOOST_TEST(j["n"] == -3);
  BOOST_TEST(j["ok"] == true);
  BOOST_TEST(j["list"].size() == 3u);
  BOOST_TEST(j["ip"] == "0xdeadbeef");
  BOOST_TEST(j["nested"]["x"] == 1);
  BOOST_TEST(w.str().find('\n') == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
