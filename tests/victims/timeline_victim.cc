// A run for the timeline (timeline=1) and the HTML report (tests/integration/html_report_test.py):
// an epoll loop thread "ev-loop" that runs short callbacks, one that sleeps (refresh_cache: a
// blocking call) and one that computes for 800 ms (crunch_numbers: a loop stall); and a pool
// "workers" of one thread, announced through the C API, whose queue holds tasks while its worker
// is busy (queue waits). Prints "done" at the end.
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include "eventfd_loop.h"
#include "loopsan/loopsan.h"

namespace {

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

std::atomic<uint64_t> sink{0};

__attribute__((noinline)) void spin_for_ms(int ms) {
  int64_t end = now_ns() + int64_t{ms} * 1000000;
  uint64_t x = 1;
  while (now_ns() < end) {
    for (int i = 0; i < 1000; ++i) x = x * 6364136223846793005ULL + 1;
  }
  sink += x;
}

__attribute__((noinline)) void refresh_cache() {
  usleep(60000);
}

__attribute__((noinline)) void crunch_numbers() {
  spin_for_ms(800);
}

void loop_thread() {
  pthread_setname_np(pthread_self(), "ev-loop");
  Loop l = make_loop();
  run_loop(l, 12, [](int i) {
    if (i == 3) {
      refresh_cache();
    } else if (i == 6) {
      crunch_numbers();
    } else {
      spin_for_ms(3);
    }
  });
  close_loop(l);
}

struct Pool {
  std::mutex m;
  std::condition_variable cv;
  std::deque<int> queue;
  bool closing = false;
};

void worker(Pool* p) {
  pthread_setname_np(pthread_self(), "pool-worker");
  for (;;) {
    int task;
    {
      std::unique_lock<std::mutex> lock(p->m);
      p->cv.wait(lock, [p] { return p->closing || !p->queue.empty(); });
      if (p->queue.empty()) return;
      task = p->queue.front();
      p->queue.pop_front();
    }
    const void* id = reinterpret_cast<const void*>(static_cast<uintptr_t>(task));
    loopsan_task_started(p, id);
    usleep(80000);
    loopsan_task_finished(p, id);
  }
}

}  // namespace

int main() {
  Pool pool;
  loopsan_pool_created(&pool, "workers", 1);
  std::thread w(worker, &pool);
  {
    std::lock_guard<std::mutex> lock(pool.m);
    for (int task = 1; task <= 3; ++task) {
      loopsan_task_queued(&pool, reinterpret_cast<const void*>(static_cast<uintptr_t>(task)));
      pool.queue.push_back(task);
    }
  }
  pool.cv.notify_one();
  std::thread loop(loop_thread);
  loop.join();
  {
    std::lock_guard<std::mutex> lock(pool.m);
    pool.closing = true;
  }
  pool.cv.notify_one();
  w.join();
  loopsan_pool_destroyed(&pool);
  printf("done\n");
  return 0;
}
