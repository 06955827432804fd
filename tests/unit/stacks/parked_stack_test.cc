// Stacks of parked threads read from outside (agent/stacks/parked_stack.h): real threads
// parked in a mutex, a read, a join, a future and a sleep; the stack walked from another thread
// names the function that parked, and the call's arguments name what it waits for.
#include <boost/test/unit_test.hpp>

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "agent/base/thread_state.h"
#include "agent/stacks/parked_stack.h"
#include "agent/stacks/stack.h"

namespace {

using loopsan::parked::Stack;
using loopsan::parked::Syscall;
using loopsan::parked::WaitTarget;

pid_t gettid_raw() {
  return static_cast<pid_t>(syscall(SYS_gettid));
}

std::vector<std::string> functions_of(const Stack& s) {
  std::vector<std::string> names;
  loopsan::StackId id = loopsan::depot::intern(s.ips, s.size);
  for (const loopsan::Frame& f : loopsan::symbolize(id)) names.push_back(f.function);
  return names;
}

bool has_function(const std::vector<std::string>& names, const std::string& function) {
  for (const auto& n : names) {
    if (n.find(function) != std::string::npos) return true;
  }
  return false;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (n.empty() ? "?" : n) + " <- ";
  return out;
}

// Waits until `tid` is parked in system call `nr` (the thread may still be on its way there).
Syscall wait_parked(pid_t tid, long nr) {
  Syscall call;
  for (int i = 0; i < 400; ++i) {
    call = loopsan::parked::read_syscall(tid);
    if (call.state == Syscall::State::kParked && call.nr == nr) {
      // Settled: the same place twice, 5 ms apart.
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      Syscall again = loopsan::parked::read_syscall(tid);
      if (again.state == call.state && again.nr == nr && again.sp == call.sp) return again;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return call;
}

// A parked thread sampled from the test thread, with the agent's re-entrancy guard set as every
// caller in the agent has it.
Stack sample(pid_t tid) {
  Stack s;
  loopsan::ReentryGuard guard;
  loopsan::parked::sample(tid, &s);
  return s;
}

std::atomic<pid_t> parked_tid{0};

pthread_mutex_t held_mutex = PTHREAD_MUTEX_INITIALIZER;
__attribute__((noinline)) void park_in_mutex() {
  parked_tid = gettid_raw();
  pthread_mutex_lock(&held_mutex);
  pthread_mutex_unlock(&held_mutex);
  asm volatile("" ::: "memory");
}

int read_pipe[2];
__attribute__((noinline)) void park_in_read() {
  parked_tid = gettid_raw();
  char c;
  ssize_t n = read(read_pipe[0], &c, 1);
  asm volatile("" ::: "memory");
  (void)n;
}

__attribute__((noinline)) void park_in_join(std::thread* other) {
  parked_tid = gettid_raw();
  other->join();
  asm volatile("" ::: "memory");
}

__attribute__((noinline)) int park_in_future(std::future<int>* f) {
  parked_tid = gettid_raw();
  int v = f->get();
  asm volatile("" ::: "memory");
  return v;
}

std::atomic<bool> stop_sleeping{false};
__attribute__((noinline)) void park_in_sleep() {
  parked_tid = gettid_raw();
  while (!stop_sleeping) usleep(20000);
  asm volatile("" ::: "memory");
}

std::atomic<bool> stop_spinning{false};
__attribute__((noinline)) void spin() {
  parked_tid = gettid_raw();
  volatile uint64_t x = 0;
  while (!stop_spinning) x = x + 1;
}

pid_t started_tid() {
  while (parked_tid == 0) std::this_thread::yield();
  return parked_tid.exchange(0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(parked_stacks)

BOOST_AUTO_TEST_CASE(mutex_wait_names_the_function_and_the_owner) {
  loopsan::stack_init(nullptr);
  pthread_mutex_lock(&held_mutex);
  std::thread t(park_in_mutex);
  pid_t tid = started_tid();
  Syscall call = wait_parked(tid, SYS_futex);
  BOOST_REQUIRE((call.state == Syscall::State::kParked));
  BOOST_TEST(call.nr == SYS_futex);
  BOOST_TEST(call.args[0] == reinterpret_cast<uintptr_t>(&held_mutex));
  WaitTarget target = loopsan::parked::wait_target(call);
  BOOST_TEST(loopsan::parked::kind_name(target.kind) == std::string("mutex"));
  BOOST_TEST(target.owner == gettid_raw());
  BOOST_TEST(target.object == reinterpret_cast<uintptr_t>(&held_mutex));

  Stack s = sample(tid);
  auto names = functions_of(s);
  BOOST_TEST(has_function(names, "park_in_mutex"), joined(names));
  BOOST_TEST(has_function(names, "pthread_mutex_lock"), joined(names));
  BOOST_TEST(loopsan::parked::waiting_in(s.call) == "futex");
  std::string json = loopsan::parked::waiting_for_json(target);
  BOOST_TEST(json.find("\"owner_tid\":" + std::to_string(gettid_raw())) != std::string::npos, json);
  pthread_mutex_unlock(&held_mutex);
  t.join();
}

BOOST_AUTO_TEST_CASE(read_names_the_function_and_the_descriptor) {
  loopsan::stack_init(nullptr);
  BOOST_REQUIRE(pipe(read_pipe) == 0);
  std::thread t(park_in_read);
  pid_t tid = started_tid();
  Syscall call = wait_parked(tid, SYS_read);
  BOOST_REQUIRE(call.nr == SYS_read);
  WaitTarget target = loopsan::parked::wait_target(call);
  BOOST_TEST(loopsan::parked::kind_name(target.kind) == std::string("descriptor"));
  BOOST_TEST(static_cast<int>(target.object) == read_pipe[0]);
  auto names = functions_of(sample(tid));
  BOOST_TEST(has_function(names, "park_in_read"), joined(names));
  BOOST_TEST(write(read_pipe[1], "x", 1) == 1);
  t.join();
  close(read_pipe[0]);
  close(read_pipe[1]);
}

BOOST_AUTO_TEST_CASE(join_names_the_joined_thread) {
  loopsan::stack_init(nullptr);
  BOOST_TEST(loopsan::parked::pthread_tid_offset_for_testing() > 0);
  BOOST_REQUIRE(pipe(read_pipe) == 0);
  std::thread reader(park_in_read);
  pid_t reader_tid = started_tid();
  wait_parked(reader_tid, SYS_read);
  std::thread joiner(park_in_join, &reader);
  pid_t tid = started_tid();
  Syscall call = wait_parked(tid, SYS_futex);
  BOOST_REQUIRE(call.nr == SYS_futex);
  WaitTarget target = loopsan::parked::wait_target(call);
  BOOST_TEST(loopsan::parked::kind_name(target.kind) == std::string("join"));
  BOOST_TEST(target.owner == reader_tid);
  BOOST_TEST(target.object == static_cast<uintptr_t>(reader.native_handle()));
  auto names = functions_of(sample(tid));
  BOOST_TEST(has_function(names, "park_in_join"), joined(names));
  BOOST_TEST(has_function(names, "join"), joined(names));
  BOOST_TEST(write(read_pipe[1], "x", 1) == 1);
  joiner.join();
  close(read_pipe[0]);
  close(read_pipe[1]);
}

BOOST_AUTO_TEST_CASE(future_get_names_the_shared_state) {
  loopsan::stack_init(nullptr);
  std::promise<int> promise;
  std::future<int> future = promise.get_future();
  std::thread t(park_in_future, &future);
  pid_t tid = started_tid();
  Syscall call = wait_parked(tid, SYS_futex);
  BOOST_REQUIRE(call.nr == SYS_futex);
  WaitTarget target = loopsan::parked::wait_target(call);
  BOOST_TEST(loopsan::parked::kind_name(target.kind) == std::string("future"));
  BOOST_TEST(std::string(target.type).find("__future_base") != std::string::npos, target.type);
  auto names = functions_of(sample(tid));
  BOOST_TEST(has_function(names, "park_in_future"), joined(names));
  promise.set_value(7);
  t.join();
}

BOOST_AUTO_TEST_CASE(sleep_names_the_function) {
  loopsan::stack_init(nullptr);
  stop_sleeping = false;
  std::thread t(park_in_sleep);
  pid_t tid = started_tid();
  Syscall call = wait_parked(tid, SYS_clock_nanosleep);
  BOOST_REQUIRE(call.nr == SYS_clock_nanosleep);
  BOOST_TEST(loopsan::parked::kind_name(loopsan::parked::wait_target(call).kind) ==
             std::string("sleep"));
  // The walk is retried when the thread moved in between: a stack is found within a few tries.
  std::vector<std::string> names;
  for (int i = 0; i < 20 && !has_function(names, "park_in_sleep"); ++i) {
    names = functions_of(sample(tid));
  }
  BOOST_TEST(has_function(names, "park_in_sleep"), joined(names));
  stop_sleeping = true;
  t.join();
}

BOOST_AUTO_TEST_CASE(running_and_exited_threads_have_no_stack) {
  loopsan::stack_init(nullptr);
  stop_spinning = false;
  std::thread t(spin);
  pid_t tid = started_tid();
  Stack s;
  for (int i = 0; i < 100; ++i) {
    s = sample(tid);
    if (s.call.state == Syscall::State::kRunning) break;
  }
  BOOST_TEST((s.call.state == Syscall::State::kRunning));
  BOOST_TEST(s.size == 0);
  BOOST_TEST(loopsan::parked::waiting_in(s.call) == "running");
  stop_spinning = true;
  t.join();
  // pthread_join returns once the kernel cleared the thread's tid, which is before it reaps
  // the task: /proc/self/task/TID may outlive the join for a moment on a loaded machine.
  for (int i = 0; i < 200; ++i) {
    s = sample(tid);
    if (s.call.state == Syscall::State::kGone) break;
    usleep(10000);
  }
  BOOST_TEST((s.call.state == Syscall::State::kGone));
  BOOST_TEST(loopsan::parked::waiting_in(s.call) == "exited");
  BOOST_TEST(loopsan::parked::task_name(gettid_raw()) != "");
}

BOOST_AUTO_TEST_CASE(no_descriptor_is_left_open) {
  loopsan::stack_init(nullptr);
  int before = dup(0);
  close(before);
  for (int i = 0; i < 50; ++i) loopsan::parked::read_syscall(gettid_raw());
  loopsan::parked::task_name(gettid_raw());
  int after = dup(0);
  close(after);
  BOOST_TEST(before == after);
}

BOOST_AUTO_TEST_SUITE_END()
