#include <boost/test/unit_test.hpp>

#include <thread>
#include <vector>

#include "agent/report/finding_table.h"

namespace table = loopsan::finding_table;
using loopsan::Kind;

BOOST_AUTO_TEST_SUITE(finding_table)

BOOST_AUTO_TEST_CASE(repeats_are_counted_and_aliases_fold_into_one_id) {
  table::reset_after_fork();
  int slot = -1;
  BOOST_TEST((table::claim(111, Kind::kBlockingCall, &slot) == table::Claim::kNew));
  BOOST_TEST(table::publish(slot, 0xabc));
  BOOST_TEST((table::claim(111, Kind::kBlockingCall, &slot) == table::Claim::kRepeat));
  // The same stable id reached through another raw stack (another load address).
  int other = -1;
  BOOST_TEST((table::claim(222, Kind::kBlockingCall, &other) == table::Claim::kNew));
  BOOST_TEST(!table::publish(other, 0xabc));
  BOOST_TEST(table::unique_findings() == 1u);
  BOOST_TEST(table::unique_by_kind(Kind::kBlockingCall) == 1u);
  BOOST_TEST(table::entry(other).alias_of.load() == slot);
}

BOOST_AUTO_TEST_CASE(concurrent_claims_of_one_stack_yield_one_new_finding) {
  table::reset_after_fork();
  std::atomic<int> news{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        int slot;
        if (table::claim(777, Kind::kLoopStall, &slot) == table::Claim::kNew) {
          ++news;
          table::publish(slot, 0x777);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  BOOST_TEST(news.load() == 1);
  BOOST_TEST(table::unique_findings() == 1u);
}

BOOST_AUTO_TEST_CASE(full_table_reports_without_deduplication) {
  table::reset_after_fork();
  int slot;
  for (int i = 1; i <= table::kCapacity; ++i) {
    BOOST_REQUIRE(
        (table::claim(static_cast<uint64_t>(i), Kind::kHungWait, &slot) == table::Claim::kNew));
    table::publish(slot, static_cast<uint64_t>(i) * 1000);
  }
  BOOST_TEST((table::claim(999999, Kind::kHungWait, &slot) == table::Claim::kFull));
  table::reset_after_fork();
}

BOOST_AUTO_TEST_SUITE_END()
