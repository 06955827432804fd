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

BOOST_AUTO_TEST_CASE(repeats_through_aliases_are_counted_on_the_canonical_slot) {
  table::reset_after_fork();
  int canonical = -1, alias = -1, unrelated = -1;
  BOOST_REQUIRE((table::claim(111, Kind::kBlockingCall, &canonical) == table::Claim::kNew));
  BOOST_TEST(table::publish(canonical, 0xabc));
  for (int i = 0; i < 2; ++i) table::claim(111, Kind::kBlockingCall, &canonical);
  // Repeats of the other raw stack before its id is published count once it is.
  BOOST_REQUIRE((table::claim(222, Kind::kBlockingCall, &alias) == table::Claim::kNew));
  table::claim(222, Kind::kBlockingCall, &alias);
  BOOST_TEST(!table::publish(alias, 0xabc));
  for (int i = 0; i < 3; ++i) table::claim(222, Kind::kBlockingCall, &alias);
  BOOST_REQUIRE((table::claim(333, Kind::kBlockingCall, &unrelated) == table::Claim::kNew));
  BOOST_TEST(table::publish(unrelated, 0xdef));

  // 3 occurrences at the first address, 5 at the second: one finding, seven repeats.
  BOOST_TEST(table::entry(canonical).count.load() == 3u);
  BOOST_TEST(table::entry(alias).count.load() == 5u);
  BOOST_TEST(table::entry(canonical).total.load() == 8u);
  BOOST_TEST(table::entry(alias).total.load() == 0u);
  BOOST_TEST(table::entry(unrelated).total.load() == 1u);
}

BOOST_AUTO_TEST_CASE(repeats_racing_with_the_alias_being_published_are_counted_once) {
  for (int round = 0; round < 100; ++round) {
    table::reset_after_fork();
    int canonical = -1, alias = -1;
    BOOST_REQUIRE((table::claim(111, Kind::kBlockingCall, &canonical) == table::Claim::kNew));
    BOOST_REQUIRE(table::publish(canonical, 0xabc));
    BOOST_REQUIRE((table::claim(222, Kind::kBlockingCall, &alias) == table::Claim::kNew));
    constexpr int kThreads = 4, kRepeats = 5000;
    std::atomic<int> started{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        ++started;
        int slot;
        uint64_t raw = t == 0 ? 111 : 222;
        for (int i = 0; i < kRepeats; ++i) table::claim(raw, Kind::kBlockingCall, &slot);
      });
    }
    while (started.load() < kThreads) std::this_thread::yield();
    BOOST_REQUIRE(!table::publish(alias, 0xabc));
    for (auto& t : threads) t.join();
    BOOST_TEST(table::entry(canonical).total.load() == 2u + kThreads * kRepeats);
    BOOST_TEST(table::entry(alias).total.load() == 0u);
  }
  table::reset_after_fork();
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
