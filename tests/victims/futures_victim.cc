// Futures that lose exceptions (and clean twins), selected by argv[1]. The functions that throw
// are noinline with distinct names: tests look for them in throw_stack.
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "loopsan/loopsan.h"

namespace {

__attribute__((noinline)) int compute_answer() {
  throw std::runtime_error("answer unavailable");
}
__attribute__((noinline)) int deferred_failure() {
  throw std::out_of_range("deferred failed");
}
__attribute__((noinline)) void validate_input(int x) {
  if (x < 0) throw std::invalid_argument("negative input");
}
__attribute__((noinline)) std::exception_ptr make_failure() {
  return std::make_exception_ptr(std::domain_error("made, not thrown"));
}
__attribute__((noinline)) int parse_config() {
  throw std::length_error("config too long");
}
__attribute__((noinline)) int kept_failure() {
  throw std::overflow_error("kept until exit");
}
__attribute__((noinline)) void worker_body() {
  throw std::logic_error("worker gave up");
}
struct NotStd {
  int code;
};
__attribute__((noinline)) int throws_not_std() {
  throw NotStd{7};
}

int async_dropped() {
  { auto f = std::async(std::launch::async, compute_answer); }
  return 0;
}

int deferred_waited() {
  auto f = std::async(std::launch::deferred, deferred_failure);
  f.wait();  // runs it: the exception is stored, never read
  return 0;
}

int promise_dropped() {
  std::promise<int> p;
  auto f = p.get_future();
  try {
    validate_input(-1);
  } catch (...) {
    p.set_exception(std::current_exception());
  }
  return 0;
}

int promise_made() {
  std::promise<void> p;
  auto f = p.get_future();
  p.set_exception(make_failure());
  return 0;
}

int packaged_task_thread() {
  std::packaged_task<int()> task(parse_config);
  auto f = task.get_future();
  std::thread t(std::move(task));
  t.join();
  f.wait();  // waited, never read
  return 0;
}

int not_std_exception() {
  auto f = std::async(std::launch::async, throws_not_std);
  f.wait();
  return 0;
}

int alive_at_exit() {
  // Leaked: never destroyed, so only the exit-time check can see it.
  auto* f = new std::future<int>(std::async(std::launch::async, kept_failure));
  f->wait();
  return 0;
}

// Every exception is retrieved, or there is none: no finding.
int clean() {
  int retrieved = 0;
  auto get_it = [&](auto& f) {
    try {
      f.get();
    } catch (const std::exception&) {
      ++retrieved;
    }
  };
  {
    auto f = std::async(std::launch::async, compute_answer);
    get_it(f);
  }
  {
    // Retrieved through one copy of a shared_future; the other copies are dropped.
    std::shared_future<int> s = std::async(std::launch::async, compute_answer).share();
    std::shared_future<int> copy = s;
    get_it(copy);
  }
  {
    std::promise<int> p;
    auto f = p.get_future();
    p.set_exception(make_failure());
    get_it(f);
  }
  {
    std::packaged_task<int()> task(parse_config);
    auto f = task.get_future();
    std::thread t(std::move(task));
    t.join();
    get_it(f);
  }
  {
    auto f = std::async(std::launch::async, [] { return 42; });  // a value, dropped unread
    std::promise<int> p;
    auto g = p.get_future();
    p.set_value(1);
  }
  {
    auto f = std::async(std::launch::deferred, deferred_failure);  // never run
  }
  {
    std::promise<int> p;
    auto f = p.get_future();  // broken promise, future dropped: nobody waits for it
  }
  for (int i = 0; i < 1000; ++i) {  // thrown and caught normally
    try {
      validate_input(-i - 1);
    } catch (const std::invalid_argument&) {
    }
  }
  {
    // pthread_exit inside a task: a forced unwind, not an exception.
    std::packaged_task<int()> task([]() -> int { pthread_exit(nullptr); });
    auto f = task.get_future();
    std::thread t(std::move(task));
    t.join();
  }
  {
    // Cancellation of a thread blocked in a task.
    std::packaged_task<int()> task([]() -> int {
      for (;;) pause();
    });
    auto f = task.get_future();
    std::thread t(std::move(task));
    usleep(20000);
    pthread_cancel(t.native_handle());
    t.join();
  }
  printf("retrieved %d\n", retrieved);
  return 0;
}

int uncaught_in_thread() {
  std::thread t(worker_body);
  t.join();
  return 0;
}

void host_terminate_handler() {
  fprintf(stderr, "host terminate handler ran\n");
  abort();
}

int uncaught_with_host_handler() {
  std::set_terminate(host_terminate_handler);
  if (std::get_terminate() != host_terminate_handler) return 3;
  std::thread t(worker_body);
  t.join();
  return 0;
}

// A hand-written future type that reports through the C API.
class CustomFuture {
 public:
  CustomFuture() { loopsan_future_created(this); }
  ~CustomFuture() { loopsan_future_destroyed(this); }
  void fail(const std::exception& e) {
    error_ = e.what();
    loopsan_future_failed(this, "CustomError", e.what());
  }
  std::string take_error() {
    loopsan_future_retrieved(this);
    return error_;
  }

 private:
  std::string error_;
};

__attribute__((noinline)) void fetch_remote(CustomFuture& f) {
  try {
    throw std::runtime_error("remote fetch failed");
  } catch (const std::exception& e) {
    f.fail(e);
  }
}

int custom_future() {
  {
    CustomFuture lost;
    fetch_remote(lost);
  }
  {
    CustomFuture read;
    fetch_remote(read);
    printf("error: %s\n", read.take_error().c_str());
  }
  static auto* alive = new CustomFuture();  // failed, still alive at exit
  fetch_remote(*alive);
  return 0;
}

int sigkill_after_drop() {
  { auto f = std::async(std::launch::async, compute_answer); }
  kill(getpid(), SIGKILL);
  return 0;
}

// Exceptions captured into exception_ptrs and dropped: records must not pile up.
int no_leak() {
  auto heap = [] { return mallinfo2().uordblks; };
  for (int i = 0; i < 1000; ++i) {  // warm up allocator and tables
    try {
      validate_input(-1);
    } catch (...) {
      std::exception_ptr p = std::current_exception();
    }
  }
  size_t before = heap();
  for (int i = 0; i < 200000; ++i) {
    try {
      validate_input(-1);
    } catch (...) {
      std::exception_ptr p = std::current_exception();
    }
    std::exception_ptr q = make_failure();
  }
  size_t after = heap();
  printf("heap growth %zu\n", after > before ? after - before : 0);
  return 0;
}

// A throw that is caught makes loopsan capture a stack (libunwind opens its validation pipe):
// the host's next open() must still get the lowest free number, and loopsan's descriptors sit
// at the top of the range.
int descriptors_after_a_throw() {
  try {
    validate_input(-1);
  } catch (const std::invalid_argument&) {
  }
  int fd = open("/dev/null", O_RDONLY);
  int high = 0;
  for (int f = 900; f < 65536; ++f) high += fcntl(f, F_GETFD) != -1;
  printf("open=%d high=%d\n", fd, high);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IONBF, 0);
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "async-dropped") return async_dropped();
  if (mode == "deferred-waited") return deferred_waited();
  if (mode == "promise-dropped") return promise_dropped();
  if (mode == "promise-made") return promise_made();
  if (mode == "packaged-task-thread") return packaged_task_thread();
  if (mode == "not-std-exception") return not_std_exception();
  if (mode == "alive-at-exit") return alive_at_exit();
  if (mode == "clean") return clean();
  if (mode == "uncaught-thread") return uncaught_in_thread();
  if (mode == "uncaught-main") return compute_answer();
  if (mode == "uncaught-host-handler") return uncaught_with_host_handler();
  if (mode == "custom-future") return custom_future();
  if (mode == "sigkill") return sigkill_after_drop();
  if (mode == "no-leak") return no_leak();
  if (mode == "descriptors") return descriptors_after_a_throw();
  fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
  return 2;
}
