// Test boundaries (loopsan_test_begin/end): findings, and repeats of earlier ones, count for the
// test open when they are raised, on any thread; the excerpt and the report lines say so.
#include <boost/test/unit_test.hpp>

#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "agent/events.h"
#include "agent/report/reporter.h"
#include "tests/unit/detectors/findings.h"

namespace events = loopsan::events;
using loopsan::test::Findings;

namespace {

__attribute__((noinline)) void test_case_handler_that_sleeps() {
  events::BlockingScope scope(events::BlockingCall{"nanosleep", events::BlockRule::kAlways, 1000});
  timespec ts{0, 1000};
  nanosleep(&ts, nullptr);
  asm volatile("" ::: "memory");
}

// A fresh thread that runs a loop and calls the handler `times` times, always in the same
// frames: every call after the first is a repeat of the first one's finding.
__attribute__((noinline)) void sleep_on_a_loop_thread(int times) {
  std::thread t([times] {
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    { events::PollingWait wait("epoll_wait", events::epoll_wait_kind(epfd), 0, nullptr); }
    // Not unrolled (-O1, a count unknown at compile time): one call site.
    for (int i = 0; i < times; ++i) test_case_handler_that_sleeps();
    events::fd_closing(epfd, nullptr);
    close(epfd);
  });
  t.join();
}

std::string test_report() {
  size_t n = events::test_report(nullptr, 0);
  std::string text(n, '\0');
  events::test_report(text.data(), n + 1);
  return text;
}

std::string test_kinds() {
  char buf[256];
  events::test_kinds(buf, sizeof buf);
  return buf;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_attribution)

BOOST_AUTO_TEST_CASE(a_finding_counts_for_the_open_test_and_its_repeat_for_the_next) {
  Findings::take();
  events::test_begin("clean_before");
  BOOST_TEST(events::test_end() == 0u);
  BOOST_TEST(test_report().empty());

  events::test_begin("buggy");
  sleep_on_a_loop_thread(1);
  BOOST_TEST(events::test_end() == 1u);
  std::string report = test_report();
  BOOST_TEST(report.rfind("loopsan: blocking-call: nanosleep", 0) == 0, report);
  BOOST_TEST(contains(report, "\n  at "), report);
  BOOST_TEST(contains(report, "\n  thread "), report);
  BOOST_TEST(contains(report, ", loop)\n"), report);
  BOOST_TEST(contains(report, "\n  report: - (id "), report);
  BOOST_TEST(!contains(report, "repeat"), report);
  BOOST_TEST(test_kinds() == "blocking-call\n");
  auto lines = Findings::take();
  BOOST_REQUIRE_EQUAL(lines.size(), 2u);
  BOOST_TEST(lines[0]["type"] == "finding");
  BOOST_TEST(lines[0]["test"] == "buggy");
  std::string id = lines[0]["id"];
  BOOST_TEST(report.find("(id " + id + ")\n") != std::string::npos, report);
  BOOST_TEST(lines[1]["type"] == "test");
  BOOST_TEST(lines[1]["name"] == "buggy");
  BOOST_TEST(lines[1]["findings"] == 1);
  BOOST_TEST(lines[1]["ids"][id] == 1);

  // The same call site again, twice: a repeat, twice, for this test; no second finding line.
  events::test_begin("buggy_again");
  sleep_on_a_loop_thread(2);
  BOOST_TEST(events::test_end() == 2u);
  std::string again = test_report();
  BOOST_TEST(contains(again, "(id " + id + ", a repeat of an earlier finding)\n"), again);
  BOOST_TEST(again.rfind("loopsan: blocking-call: nanosleep", 0) == 0, again);
  lines = Findings::take();
  BOOST_REQUIRE_EQUAL(lines.size(), 1u);
  BOOST_TEST(lines[0]["type"] == "test");
  BOOST_TEST(lines[0]["name"] == "buggy_again");
  BOOST_TEST(lines[0]["ids"][id] == 2);

  events::test_begin("clean_after");
  BOOST_TEST(events::test_end() == 0u);
  BOOST_TEST(test_report().empty());
  BOOST_TEST(test_kinds().empty());
  BOOST_TEST(Findings::take().empty());
}

BOOST_AUTO_TEST_CASE(outside_a_test_nothing_is_attributed) {
  Findings::take();
  BOOST_TEST(events::test_end() == 0u);
  sleep_on_a_loop_thread(1);  // a repeat, no test open
  auto lines = Findings::take();
  BOOST_TEST(lines.empty());
  // A begin while a test is open ends that one (its line is written) and opens the next.
  events::test_begin("first");
  sleep_on_a_loop_thread(1);
  events::test_begin("second");
  lines = Findings::take();
  BOOST_REQUIRE_EQUAL(lines.size(), 1u);
  BOOST_TEST(lines[0]["name"] == "first");
  BOOST_TEST(events::test_end() == 0u);
}

BOOST_AUTO_TEST_CASE(the_excerpt_is_bounded_and_follows_snprintf) {
  Findings::take();
  events::test_begin(std::string(400, 'n').c_str());
  // 300 distinct findings in one test.
  for (int i = 0; i < 300; ++i) {
    loopsan::Finding f;
    f.kind = loopsan::Kind::kLoopStall;
    f.message = "synthetic stall " + std::to_string(i) + " " + std::string(100, 'x');
    f.identity = "excerpt-bound-" + std::to_string(i);
    loopsan::reporter::submit(f);
  }
  BOOST_TEST(events::test_end() == 300u);
  std::string report = test_report();
  BOOST_TEST(report.size() <= 16u * 1024 + 64);
  BOOST_TEST(contains(report, "more findings\n"), report.substr(report.size() - 100));
  BOOST_TEST(test_kinds() == "loop-stall\n");
  char small[8];
  size_t need = events::test_report(small, sizeof small);
  BOOST_TEST(need == report.size());
  BOOST_TEST(std::string(small) == report.substr(0, 7));
  BOOST_TEST(events::test_report(nullptr, 0) == report.size());
  auto lines = Findings::take();
  BOOST_REQUIRE_EQUAL(lines.size(), 301u);
  BOOST_TEST(lines[0]["test"].get<std::string>().size() == 255u);
  const auto& test_line = lines.back();
  BOOST_TEST(test_line["type"] == "test");
  BOOST_TEST(test_line["findings"] == 300);
  BOOST_TEST(test_line["ids"].size() == 64u);
  BOOST_TEST(test_line["more_ids"] == 300 - 64);

  // Many tests that repeat those findings: each one's record starts empty.
  for (int t = 0; t < 2000; ++t) {
    events::test_begin("repeat");
    loopsan::Finding f;
    f.kind = loopsan::Kind::kLoopStall;
    f.message = "synthetic";
    f.identity = "excerpt-bound-" + std::to_string(t % 300);
    loopsan::reporter::submit(f);
    BOOST_REQUIRE(events::test_end() == 1u);
  }
  BOOST_TEST(contains(test_report(), "synthetic stall 199 "), test_report());
  BOOST_TEST(Findings::take().size() == 2000u);  // one test line each, no finding line
}

BOOST_AUTO_TEST_CASE(findings_on_other_threads_race_test_boundaries_safely) {
  // Four threads repeat a finding while the main thread opens and closes tests: every repeat
  // counts for at most one test, and nothing is counted for a closed one.
  Findings::take();
  auto raise = [] {
    loopsan::Finding f;
    f.kind = loopsan::Kind::kBlockingCall;
    f.message = "raced";
    f.identity = "race";
    loopsan::reporter::submit(f);
  };
  raise();  // the first occurrence, outside any test
  BOOST_TEST(Findings::take().size() == 1u);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> raised{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        raise();
        raised.fetch_add(1);
      }
    });
  }
  uint64_t counted = 0;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int i = 0; i < 2000 || (counted == 0 && std::chrono::steady_clock::now() < give_up); ++i) {
    events::test_begin("race");
    counted += events::test_end();
  }
  stop = true;
  for (auto& t : threads) t.join();
  BOOST_TEST(counted > 0u);
  BOOST_TEST(counted <= raised.load());
  BOOST_TEST(events::test_end() == 0u);
  for (const auto& line : Findings::take()) {
    BOOST_TEST(line["type"] != "finding");  // repeats only: test lines
  }
}

BOOST_AUTO_TEST_SUITE_END()
