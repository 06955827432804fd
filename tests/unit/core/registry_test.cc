#include <boost/test/unit_test.hpp>

#include <pthread.h>

#include <atomic>
#include <thread>

#include "agent/core/thread_registry.h"

namespace registry = loopsan::registry;

BOOST_AUTO_TEST_SUITE(thread_registry)

// The registry is process-wide; these tests look at differences only.

BOOST_AUTO_TEST_CASE(started_thread_is_recorded_until_exited_and_joined) {
  registry::register_main_thread();
  size_t before = registry::live_records();
  uint64_t created_before = registry::threads_created();
  std::atomic<bool> started{false}, release{false};
  pthread_t handle;
  auto body = [](void* p) -> void* {
    auto* flags = static_cast<std::pair<std::atomic<bool>*, std::atomic<bool>*>*>(p);
    registry::thread_started(0);
    flags->first->store(true);
    while (!flags->second->load()) std::this_thread::yield();
    registry::thread_exiting();
    return nullptr;
  };
  std::pair<std::atomic<bool>*, std::atomic<bool>*> flags{&started, &release};
  pthread_create(&handle, nullptr, body, &flags);
  while (!started) std::this_thread::yield();
  BOOST_TEST(registry::live_records() == before + 1);
  BOOST_TEST(registry::threads_created() == created_before + 1);
  release = true;
  pthread_join(handle, nullptr);
  // Exited but not yet joined in the registry's eyes: still recorded (a leak candidate).
  BOOST_TEST(registry::live_records() == before + 1);
  registry::thread_joined(handle);
  BOOST_TEST(registry::live_records() == before);
}

BOOST_AUTO_TEST_CASE(detached_thread_is_forgotten_when_it_exits) {
  size_t before = registry::live_records();
  std::atomic<bool> done{false};
  std::thread t([&] {
    registry::thread_started(0);
    registry::thread_detached(pthread_self());
    BOOST_TEST(registry::live_records() == before + 1);
    registry::thread_exiting();
    done = true;
  });
  t.join();
  BOOST_TEST(done.load());
  BOOST_TEST(registry::live_records() == before);
}

BOOST_AUTO_TEST_CASE(join_of_a_reused_handle_does_not_touch_a_live_thread) {
  // A join only applies to a record whose thread has exited: pthread_t values are reused.
  size_t before = registry::live_records();
  std::atomic<bool> started{false}, release{false};
  std::thread t([&] {
    registry::thread_started(0);
    started = true;
    while (!release) std::this_thread::yield();
    registry::thread_exiting();
  });
  while (!started) std::this_thread::yield();
  pthread_t handle = t.native_handle();  // std::thread forgets it once joined
  registry::thread_joined(handle);       // a stale join for the same handle value
  BOOST_TEST(registry::live_records() == before + 1);
  release = true;
  t.join();
  // The stale join did not count: exited but never joined, the record stays (a leak).
  BOOST_TEST(registry::live_records() == before + 1);
  registry::thread_joined(handle);
  BOOST_TEST(registry::live_records() == before);
}

namespace {

// A thread created the way the pthread_create() wrapper does it, in three steps.
struct Created {
  pthread_t handle{};
  pid_t tid = 0;
  std::atomic<bool> started{false}, release{false}, ended{false};
  loopsan::ThreadRecord* record = nullptr;
};

void* created_body(void* p) {
  auto* c = static_cast<Created*>(p);
  registry::thread_started(c->record);
  c->tid = loopsan::current_tid();
  c->started = true;
  while (!c->release) std::this_thread::yield();
  registry::thread_exiting();
  c->ended = true;
  return nullptr;
}

bool listed_as_unjoined(pid_t tid) {
  for (const auto& u : registry::running_unjoined()) {
    if (u.tid == tid) return true;
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_created_thread_keeps_its_creation_stack_until_joined) {
  size_t before = registry::live_records();
  Created c;
  c.record = registry::thread_creating(loopsan::current_tid(), 42, false);
  BOOST_REQUIRE(pthread_create(&c.handle, nullptr, created_body, &c) == 0);
  registry::thread_created(c.record, true, c.handle);
  while (!c.started) std::this_thread::yield();
  bool found = false;
  for (const auto& u : registry::running_unjoined()) {
    if (u.tid != c.tid) continue;
    found = true;
    BOOST_TEST(u.created_stack == 42u);
    BOOST_TEST(u.creator_tid == loopsan::current_tid());
  }
  BOOST_TEST(found);
  c.release = true;
  pthread_join(c.handle, nullptr);
  BOOST_TEST(!listed_as_unjoined(c.tid));  // exited: a zombie at most, not running
  registry::thread_joined(c.handle);
  BOOST_TEST(registry::live_records() == before);
}

BOOST_AUTO_TEST_CASE(detached_before_it_ran_is_never_unjoined) {
  // CPython detaches each thread right after pthread_create() returns, often before the thread
  // has run a single instruction: the record must already be there to be marked.
  size_t before = registry::live_records();
  Created c;
  c.record = registry::thread_creating(loopsan::current_tid(), 0, false);
  BOOST_REQUIRE(pthread_create(&c.handle, nullptr, created_body, &c) == 0);
  registry::thread_created(c.record, true, c.handle);
  registry::thread_detached(c.handle);
  pthread_detach(c.handle);
  while (!c.started) std::this_thread::yield();
  BOOST_TEST(!listed_as_unjoined(c.tid));
  c.release = true;
  while (!c.ended) std::this_thread::yield();
  BOOST_TEST(registry::live_records() == before);
}

BOOST_AUTO_TEST_CASE(a_thread_that_ended_before_its_creator_returned_is_still_recorded) {
  size_t before = registry::live_records();
  Created c;
  c.release = true;
  c.record = registry::thread_creating(loopsan::current_tid(), 0, true);  // created detached
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  BOOST_REQUIRE(pthread_create(&c.handle, &attr, created_body, &c) == 0);
  pthread_attr_destroy(&attr);
  while (!c.ended) std::this_thread::yield();
  // Ended and detached: its record goes as soon as its creator files it.
  registry::thread_created(c.record, true, c.handle);
  BOOST_TEST(registry::live_records() == before);
}

BOOST_AUTO_TEST_CASE(a_thread_that_names_itself_before_its_creator_returned_keeps_the_name) {
  Created c;
  c.record = registry::thread_creating(loopsan::current_tid(), 0, false);
  auto body = [](void* p) -> void* {
    auto* c = static_cast<Created*>(p);
    registry::thread_started(c->record);
    c->tid = loopsan::current_tid();
    registry::thread_named(pthread_self(), "early-name");
    c->started = true;
    while (!c->release) std::this_thread::yield();
    registry::thread_exiting();
    return nullptr;
  };
  BOOST_REQUIRE(pthread_create(&c.handle, nullptr, body, &c) == 0);
  while (!c.started) std::this_thread::yield();
  registry::thread_created(c.record, true, c.handle);  // filed after the thread named itself
  std::string name;
  for (const auto& u : registry::running_unjoined()) {
    if (u.tid == c.tid) name = u.name;
  }
  BOOST_TEST(name == "early-name");
  c.release = true;
  pthread_join(c.handle, nullptr);
  registry::thread_joined(c.handle);
}

BOOST_AUTO_TEST_CASE(a_failed_creation_leaves_no_record) {
  size_t before = registry::live_records();
  registry::thread_created(registry::thread_creating(0, 0, false), false, pthread_t{});
  BOOST_TEST(registry::live_records() == before);
}

BOOST_AUTO_TEST_CASE(current_thread_info_reads_the_kernel_name) {
  std::string name;
  std::thread t([&] {
    pthread_setname_np(pthread_self(), "reg-test");
    name = registry::current_thread_info().name;
  });
  t.join();
  BOOST_TEST(name == "reg-test");
  BOOST_TEST(std::string(loopsan::role_name(registry::current_thread_info().role)) == "main");
}

BOOST_AUTO_TEST_SUITE_END()
