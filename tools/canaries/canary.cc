// loopsan-canary MODE [DEADLINE_MS]: one small, known bug per native detector, for `loopsan
// selftest`. Each bug sits in a noinline function with a distinctive name (canary_*): the selftest
// looks for it in the finding's stacks, so a detector that reports the wrong place is caught too.
// Built -O1 -g and never stripped, like the programs users run under loopsan.
//
// A canary that would never end by itself (a deadlock, a hung wait) ends once loopsan has
// counted a finding (loopsan_findings_count()), or at a deadline without one (exit status 3):
// run by hand without the shim it still ends.
#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "loopsan/loopsan.hpp"

namespace {

constexpr int kNoFinding = 3;
constexpr int kStarvedOfCpu = 4;  // see loop_stall()
int deadline_ms = 5000;  // argv[2]: how long a canary waits for its finding before giving up

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

void nap_ms(int ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

bool reported() {
  return loopsan_findings_count() > 0;
}

// A child that exits at once: loopsan writes its report's start line now, with the hooks
// installed since the process started (the stall sampler's), which the start line of this
// process, written at start, could not list yet.
void snapshot_hooks() {
  if (!loopsan_active()) return;
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid(pid, nullptr, 0);
}

// The finding is counted before its line is written: give the writer a moment, then leave
// without running exit handlers (threads may be deadlocked on locks they would need).
[[noreturn]] void leave(int status) {
  if (status == 0) nap_ms(100);
  snapshot_hooks();
  fflush(nullptr);
  _exit(status);
}

// For canaries stuck for good: a thread that ends the process once the finding is in.
void end_when_reported() {
  std::thread([] {
    int64_t deadline = now_ms() + deadline_ms;
    while (!reported() && now_ms() < deadline) nap_ms(10);
    leave(reported() ? 0 : kNoFinding);
  }).detach();
}

// A minimal epoll loop: an eventfd it wakes itself with. The thread becomes a loop thread at
// its first epoll_wait, and stays one until the epoll descriptor is closed.
class Loop {
 public:
  Loop() : epfd_(epoll_create1(EPOLL_CLOEXEC)), efd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = efd_;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, efd_, &ev);
  }
  ~Loop() {
    close(efd_);
    close(epfd_);
  }
  // One iteration per callback: wake, wait, run it.
  void run(const std::vector<std::function<void()>>& callbacks) {
    for (const auto& callback : callbacks) {
      uint64_t one = 1;
      if (write(efd_, &one, sizeof one) != sizeof one) _exit(90);
      epoll_event ev;
      int n;
      while ((n = epoll_wait(epfd_, &ev, 1, 5000)) < 0 && errno == EINTR) {
      }
      uint64_t value;
      if (n != 1 || read(efd_, &value, sizeof value) != sizeof value) _exit(91);
      callback();
    }
  }

 private:
  int epfd_;
  int efd_;
};

// --- blocking-call -------------------------------------------------------------------------

__attribute__((noinline)) void canary_blocking_sleep_on_loop() {
  timespec ts{0, 1000000};
  nanosleep(&ts, nullptr);
  asm volatile("" ::: "memory");
}

int blocking_call() {
  Loop loop;
  loop.run({[] {}, canary_blocking_sleep_on_loop});
  return 0;
}

// --- loop-stall ----------------------------------------------------------------------------

int64_t thread_cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

int64_t stall_wall_ms = 0;
int64_t stall_cpu_ms = 0;

__attribute__((noinline)) uint64_t canary_stall_busy_on_loop() {
  uint64_t h = 1469598103934665603ull;
  int64_t start = now_ms();
  int64_t cpu_start = thread_cpu_ms();
  int64_t deadline = start + deadline_ms;
  while (!reported() && now_ms() < deadline) {
    for (int i = 0; i < 100000; ++i) h = (h ^ static_cast<uint64_t>(i)) * 1099511628211ull;
  }
  stall_wall_ms = now_ms() - start;
  stall_cpu_ms = thread_cpu_ms() - cpu_start;
  return h;
}

int loop_stall() {
  Loop loop;
  volatile uint64_t sink = 0;
  loop.run({[] {}, [&] { sink = canary_stall_busy_on_loop(); }, [] {}});
  if (reported()) return 0;
  // loopsan does not judge a stall whose thread got under a tenth of a CPU (where a starved
  // thread was preempted says nothing about the code): say so, rather than "no finding".
  return stall_cpu_ms * 10 < stall_wall_ms ? kStarvedOfCpu : kNoFinding;
}

// --- unretrieved-exception -----------------------------------------------------------------

__attribute__((noinline)) int canary_future_throws() {
  throw std::runtime_error("canary: this exception is never retrieved");
}

__attribute__((noinline)) void canary_drop_failed_future() {
  auto f = std::async(std::launch::async, canary_future_throws);
  f.wait();  // waited for, never read
}

int unretrieved_exception() {
  canary_drop_failed_future();
  return 0;
}

// --- uncaught-exception (ends with SIGABRT, as std::terminate does) -------------------------

__attribute__((noinline)) void canary_uncaught_throw() {
  throw std::logic_error("canary: nobody catches this");
}

int uncaught_exception() {
  std::thread t(canary_uncaught_throw);
  t.join();
  return 0;
}

// --- hung-wait -----------------------------------------------------------------------------

__attribute__((noinline)) int canary_hung_wait_on_future(std::future<int>& never) {
  return never.get();
}

int hung_wait() {
  std::promise<int> kept_forever;
  std::future<int> never = kept_forever.get_future();
  end_when_reported();
  return canary_hung_wait_on_future(never);
}

// --- deadlock ------------------------------------------------------------------------------

std::mutex lock_a;
std::mutex lock_b;

__attribute__((noinline)) void canary_deadlock_lock_ab() {
  std::lock_guard<std::mutex> a(lock_a);
  nap_ms(50);
  std::lock_guard<std::mutex> b(lock_b);
}

__attribute__((noinline)) void canary_deadlock_lock_ba() {
  std::lock_guard<std::mutex> b(lock_b);
  nap_ms(50);
  std::lock_guard<std::mutex> a(lock_a);
}

int deadlock() {
  end_when_reported();
  std::thread ab(canary_deadlock_lock_ab);
  std::thread ba(canary_deadlock_lock_ba);
  ab.join();
  ba.join();
  return kNoFinding;
}

// --- thread-leak (reported at exit) --------------------------------------------------------

int never_written[2];
std::atomic<bool> about_to_park{false};

void* canary_leaked_thread_reads(void*) {
  about_to_park = true;
  char c;
  ssize_t n = read(never_written[0], &c, 1);
  return reinterpret_cast<void*>(n);
}

__attribute__((noinline)) void canary_leak_a_thread() {
  pthread_t t;
  if (pipe2(never_written, O_CLOEXEC) != 0 ||
      pthread_create(&t, nullptr, canary_leaked_thread_reads, nullptr) != 0) {
    _exit(92);
  }
  asm volatile("" ::: "memory");
}

int thread_leak() {
  canary_leak_a_thread();
  // Parked in read() before exit looks: a thread still starting has nothing of the program's
  // own on its stack, and loopsan leaves such threads (a library's machinery) alone.
  int64_t deadline = now_ms() + deadline_ms;
  while (!about_to_park && now_ms() < deadline) nap_ms(1);
  nap_ms(20);
  return 0;
}

// --- pool-starvation (a pool that tells loopsan about its queue through the C API) ---------

class Pool {
 public:
  Pool(const char* name, int workers) {
    loopsan_pool_created(this, name, workers);
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> g(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
    loopsan_pool_destroyed(this);
  }
  void submit(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> g(mutex_);
      jobs_.push_back(std::move(job));
      loopsan_task_queued(this, nullptr);
    }
    cv_.notify_one();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      loopsan::TaskScope running(this, nullptr);
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Holds the only worker until loopsan has said that the next job starves.
__attribute__((noinline)) void canary_starving_job() {
  int64_t deadline = now_ms() + deadline_ms;
  while (!reported() && now_ms() < deadline) nap_ms(10);
}

__attribute__((noinline)) void canary_submit_to_small_pool(Pool& pool) {
  for (int i = 0; i < 2; ++i) pool.submit(canary_starving_job);
}

int pool_starvation() {
  {
    Pool pool("canary-pool", 1);
    canary_submit_to_small_pool(pool);
  }
  return reported() ? 0 : kNoFinding;
}

// --- clean: the same shapes done right; any finding here is a false positive ----------------

__attribute__((noinline)) int canary_clean_throws() {
  throw std::runtime_error("retrieved");
}

int clean() {
  {
    Loop loop;
    loop.run({[] {}, [] {}, [] {}});
  }
  nap_ms(5);  // off the loop: its descriptor is closed
  auto f = std::async(std::launch::async, canary_clean_throws);
  try {
    f.get();
  } catch (const std::exception&) {
  }
  {
    Pool pool("canary-clean-pool", 2);
    for (int i = 0; i < 2; ++i) pool.submit([] { nap_ms(5); });
  }
  std::thread worker([] { nap_ms(5); });
  worker.join();
  return 0;
}

struct Mode {
  const char* name;
  int (*run)();
};

constexpr Mode kModes[] = {
    {"blocking-call", blocking_call},
    {"loop-stall", loop_stall},
    {"unretrieved-exception", unretrieved_exception},
    {"uncaught-exception", uncaught_exception},
    {"hung-wait", hung_wait},
    {"deadlock", deadlock},
    {"thread-leak", thread_leak},
    {"pool-starvation", pool_starvation},
    {"clean", clean},
};

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (argc > 2 && atoi(argv[2]) > 0) deadline_ms = atoi(argv[2]);
  for (const Mode& m : kModes) {
    if (mode == m.name) {
      int status = m.run();
      snapshot_hooks();
      return status;
    }
  }
  fprintf(stderr, "usage: loopsan-canary MODE (run by `loopsan selftest`); modes:");
  for (const Mode& m : kModes) fprintf(stderr, " %s", m.name);
  fprintf(stderr, "\n");
  return 2;
}
