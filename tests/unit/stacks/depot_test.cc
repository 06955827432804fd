#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "agent/stacks/depot.h"

namespace depot = loopsan::depot;
using loopsan::StackId;

namespace {

// A stack no other test interns: `tag` makes it unique to the caller.
std::vector<uintptr_t> make_stack(uintptr_t tag, int size) {
  std::vector<uintptr_t> ips;
  for (int i = 0; i < size; ++i) ips.push_back(0x7f0000000000ull + tag * 0x10000 + i * 0x10);
  return ips;
}

StackId intern(const std::vector<uintptr_t>& ips) {
  return depot::intern(ips.data(), static_cast<int>(ips.size()));
}

std::vector<uintptr_t> contents(StackId id) {
  depot::StackView v = depot::get(id);
  return std::vector<uintptr_t>(v.ips, v.ips + v.size);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stack_depot)

BOOST_AUTO_TEST_CASE(same_stack_same_id_and_contents_round_trip) {
  std::vector<uintptr_t> a = make_stack(1, 12);
  StackId id = intern(a);
  BOOST_TEST(id != 0u);
  BOOST_TEST(intern(a) == id);
  std::vector<uintptr_t> copy = a;  // same contents at another address
  BOOST_TEST(intern(copy) == id);
  BOOST_TEST(contents(id) == a);
}

BOOST_AUTO_TEST_CASE(different_stacks_different_ids) {
  std::vector<uintptr_t> a = make_stack(2, 8);
  std::vector<uintptr_t> b = a;
  b.back() += 1;  // differs in the last frame only
  std::vector<uintptr_t> prefix(a.begin(), a.end() - 1);
  StackId ia = intern(a), ib = intern(b), ip = intern(prefix);
  BOOST_TEST(ia != ib);
  BOOST_TEST(ia != ip);
  BOOST_TEST(ib != ip);
  BOOST_TEST(contents(ia) == a);
  BOOST_TEST(contents(ib) == b);
  BOOST_TEST(contents(ip) == prefix);
}

BOOST_AUTO_TEST_CASE(empty_stack_is_zero) {
  uintptr_t one = 0x1234;
  BOOST_TEST(depot::intern(&one, 0) == 0u);
  BOOST_TEST(depot::intern(nullptr, 3) == 0u);
  depot::StackView v = depot::get(0);
  BOOST_TEST(v.size == 0);
  BOOST_TEST(v.ips == nullptr);
}

BOOST_AUTO_TEST_CASE(stats_count_new_stacks_only) {
  depot::Stats before = depot::stats();
  std::vector<uintptr_t> a = make_stack(3, 5);
  intern(a);
  intern(a);
  depot::Stats after = depot::stats();
  BOOST_TEST(after.stacks == before.stacks + 1);
  BOOST_TEST(after.bytes > before.bytes);
}

BOOST_AUTO_TEST_CASE(concurrent_interning_gives_consistent_ids) {
  constexpr int kThreads = 8;
  constexpr int kShared = 200;   // stacks every thread interns, racing for the first insert
  constexpr int kPrivate = 200;  // stacks only one thread interns
  std::vector<std::vector<uintptr_t>> shared;
  for (int i = 0; i < kShared; ++i) shared.push_back(make_stack(1000 + i, 1 + i % 40));
  std::vector<std::vector<StackId>> shared_ids(kThreads, std::vector<StackId>(kShared));
  std::vector<std::vector<StackId>> private_ids(kThreads);
  std::atomic<int> unstable{0};  // a thread got two ids for one stack
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < kShared; ++i) {
          // Each thread starts at a different place, to race on different stacks.
          int k = (i + t * 37) % kShared;
          StackId id = intern(shared[k]);
          if (round == 0) {
            shared_ids[t][k] = id;
          } else if (shared_ids[t][k] != id) {
            unstable.fetch_add(1);
          }
        }
      }
      for (int i = 0; i < kPrivate; ++i) {
        private_ids[t].push_back(intern(make_stack(5000 + t * kPrivate + i, 3 + i % 20)));
      }
    });
  }
  for (auto& th : threads) th.join();
  BOOST_TEST(unstable.load() == 0);
  for (int t = 0; t < kThreads; ++t) {
    for (int k = 0; k < kShared; ++k) {
      BOOST_TEST_REQUIRE(shared_ids[t][k] != 0u);
      BOOST_TEST(shared_ids[t][k] == shared_ids[0][k]);
    }
  }
  for (int k = 0; k < kShared; ++k) {
    BOOST_TEST(contents(shared_ids[0][k]) == shared[k]);
    BOOST_TEST(intern(shared[k]) == shared_ids[0][k]);
  }
  std::vector<StackId> all;
  for (int k = 0; k < kShared; ++k) all.push_back(shared_ids[0][k]);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPrivate; ++i) {
      StackId id = private_ids[t][i];
      BOOST_TEST_REQUIRE(id != 0u);
      BOOST_TEST(contents(id) == make_stack(5000 + t * kPrivate + i, 3 + i % 20));
      all.push_back(id);
    }
  }
  std::sort(all.begin(), all.end());
  BOOST_TEST((std::adjacent_find(all.begin(), all.end()) == all.end()));
}

BOOST_AUTO_TEST_CASE(full_depot_returns_zero_and_keeps_old_stacks) {
  std::vector<uintptr_t> old = make_stack(9000, 10);
  StackId old_id = intern(old);
  BOOST_TEST_REQUIRE(old_id != 0u);
  depot::Stats before = depot::stats();
  // Room for a few small stacks only.
  depot::set_capacity_for_testing(before.bytes + 200);
  int stored = 0;
  StackId last = 1;
  for (uintptr_t tag = 9001; last != 0 && tag < 9100; ++tag) {
    last = intern(make_stack(tag, 4));
    if (last != 0) ++stored;
  }
  BOOST_TEST(last == 0u);
  BOOST_TEST(stored >= 1);
  BOOST_TEST(stored < 10);
  BOOST_TEST(depot::stats().dropped > before.dropped);
  BOOST_TEST(depot::stats().bytes <= before.bytes + 200);
  // Stacks already stored are still found, with the same id.
  BOOST_TEST(intern(old) == old_id);
  BOOST_TEST(contents(old_id) == old);
  depot::set_capacity_for_testing(0);
  BOOST_TEST(intern(make_stack(9100, 4)) != 0u);
}

BOOST_AUTO_TEST_SUITE_END()
