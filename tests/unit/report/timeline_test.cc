// The timeline's recording side (report/timeline.h): a full ring drops and counts its events,
// the live rings are capped (a thread without one has its events counted as dropped), and a
// thread records nothing after thread_exiting. The watchdog is stopped first so that no drain
// runs: it would free rings and write a report.
#include <boost/test/unit_test.hpp>

#include <thread>

#include "agent/base/sys.h"
#include "agent/base/thread_state.h"
#include "agent/core/process_info.h"
#include "agent/core/watchdog.h"
#include "agent/events.h"
#include "agent/report/timeline.h"

namespace timeline = loopsan::timeline;

namespace {

constexpr int64_t kMs = 1000000;
constexpr int kRingSize = 1024;  // timeline.cc's kRingSize
constexpr int kMaxRings = 256;   // timeline.cc's kMaxRings

struct TimelineOn {
  TimelineOn() {
    loopsan::watchdog::stop();
    // record() does nothing unless this is the agent's own process (not a vfork child).
    if (loopsan::process_info::pid() != loopsan::sys::getpid()) {
      loopsan::process_info::init(0, nullptr);
    }
    loopsan::events::g_timeline_on = 1;
    timeline::reset_after_fork();  // no rings, counts at 0 (earlier rings are leaked)
  }
  ~TimelineOn() { loopsan::events::g_timeline_on = 0; }
};

void span(int i) {
  timeline::record(timeline::kTask, i * kMs, i * kMs + kMs, "pool");
}

// A ring starts with the thread's start when the registry knows the thread.
uint64_t start_events() {
  return loopsan::tls_state.record != nullptr ? 1 : 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(timeline_rings)

BOOST_FIXTURE_TEST_CASE(a_full_ring_drops_and_counts, TimelineOn) {
  std::thread([] {
    for (int i = 0; i < kRingSize + 10; ++i) span(i);
    BOOST_TEST(timeline::dropped() == 10 + start_events());
    BOOST_TEST(timeline::live_rings() == 1);
    timeline::thread_exiting();
    // The thread's exit found the ring full too.
    BOOST_TEST(timeline::dropped() == 11 + start_events());
    // A TLS destructor's span after the exit: neither recorded, nor counted, nor a new ring.
    span(0);
    BOOST_TEST(timeline::dropped() == 11 + start_events());
    BOOST_TEST(timeline::live_rings() == 1);
  }).join();
}

BOOST_FIXTURE_TEST_CASE(no_ring_after_the_exit_of_a_thread_that_never_recorded, TimelineOn) {
  std::thread([] {
    timeline::thread_exiting();
    span(0);
  }).join();
  BOOST_TEST(timeline::live_rings() == 0);
  BOOST_TEST(timeline::dropped() == 0u);
}

BOOST_FIXTURE_TEST_CASE(live_rings_are_capped, TimelineOn) {
  for (int i = 0; i < kMaxRings + 3; ++i) {
    std::thread([i] {
      span(i);
      timeline::thread_exiting();
    }).join();
  }
  // Their rings wait for a drain; the last three threads found none and lost their span.
  BOOST_TEST(timeline::live_rings() == kMaxRings);
  BOOST_TEST(timeline::dropped() == 3u);
}

BOOST_AUTO_TEST_SUITE_END()
