#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <string>

#include "agent/report/episodes.h"

namespace episodes = loopsan::episodes;
using loopsan::Kind;
using nlohmann::json;

namespace {

// The summary's fields, parsed back (they are written as ",\"key\":{...},...").
json summary_fields(int64_t now_ns, size_t cap = 4096) {
  std::string buf(cap, '\0');
  size_t n = episodes::write_json(buf.data(), cap, now_ns);
  return json::parse("{\"x\":0" + buf.substr(0, n) + "}");
}

constexpr int64_t kMs = 1000000;

}  // namespace

BOOST_AUTO_TEST_SUITE(episodes_table)

BOOST_AUTO_TEST_CASE(ended_episodes_count_and_sum_per_finding_and_ongoing_ones_say_so) {
  episodes::reset_after_fork();
  BOOST_TEST(summary_fields(0).size() == 1u, "nothing to say: no fields");
  int a = episodes::begin(0xabc, 1000 * kMs);
  episodes::end(a, 1300 * kMs);
  int again = episodes::begin(0xabc, 2000 * kMs);
  BOOST_TEST(again == a);
  episodes::end(again, 2100 * kMs);
  episodes::end(again, 2500 * kMs);  // once only
  int b = episodes::begin(0xdef, 3000 * kMs);
  episodes::count_unreported(Kind::kLoopStall);
  json j = summary_fields(3250 * kMs);
  const json& first = j["episodes"]["0000000000000abc"];
  BOOST_TEST(first["count"] == 2);
  BOOST_TEST(first["total_ms"] == 400);
  BOOST_TEST(first["max_ms"] == 300);
  BOOST_TEST(!first.contains("ongoing_ms"));
  const json& second = j["episodes"]["0000000000000def"];
  BOOST_TEST(second["count"] == 0);
  BOOST_TEST(second["ongoing_ms"] == 250);
  BOOST_TEST(j["unreported"]["loop-stall"] == 1);
  BOOST_TEST(b != a);
}

BOOST_AUTO_TEST_CASE(a_small_buffer_keeps_whole_entries_and_valid_json) {
  episodes::reset_after_fork();
  for (uint64_t id = 1; id <= 50; ++id) episodes::end(episodes::begin(id, kMs), 10 * kMs);
  json j = summary_fields(0, 300);  // room for a few entries only
  BOOST_TEST(j["episodes"].size() >= 1u);
  BOOST_TEST(j["episodes"].size() < 50u);
}

BOOST_AUTO_TEST_SUITE_END()
