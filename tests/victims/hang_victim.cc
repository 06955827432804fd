// Threads that wait for each other (deadlocks), waits that never end (hung waits), and clean
// twins that wait for a long time by design. Modes:
//   abba          two threads take two mutexes in opposite orders: a deadlock
//   async-join    main holds a mutex and waits on a std::async future whose producer needs it
//   future-never  main waits on a std::future whose promise is never set (its holder sleeps)
//   idle-worker   a pool worker waits on its queue's condition variable for 1.5 s, then is
//                 told to stop and joined
//   joined        threads that work a little and are joined
//   sleeps        a thread sleeping 1.5 s off any loop, joined
//   abba-timed    the same with pthread_mutex_timedlock (1.5 s): each gives up, no deadlock
//   main-exits    main ends with pthread_exit while a detached worker sleeps 400 ms, then
//                 prints "done" and returns: the process ends then, with status 0
// A mode that never ends prints its marker and is killed by the test.
#include <pthread.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>

namespace {

std::mutex first_lock;
std::mutex second_lock;

void say(const char* what) {
  printf("%s\n", what);
  fflush(stdout);
}

__attribute__((noinline)) void take_first_then_second() {
  std::lock_guard<std::mutex> a(first_lock);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::lock_guard<std::mutex> b(second_lock);
}

__attribute__((noinline)) void take_second_then_first() {
  std::lock_guard<std::mutex> b(second_lock);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::lock_guard<std::mutex> a(first_lock);
}

__attribute__((noinline)) int produce_under_lock() {
  std::lock_guard<std::mutex> g(first_lock);
  return 42;
}

__attribute__((noinline)) int wait_for_answer(std::future<int>& f) {
  return f.get();
}

__attribute__((noinline)) void keep_the_promise(std::promise<int>* p) {
  (void)p;
  for (;;) sleep(60);
}

pthread_mutex_t timed_first = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t timed_second = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) void lock_for_a_while(pthread_mutex_t* held, pthread_mutex_t* wanted) {
  pthread_mutex_lock(held);
  usleep(100000);
  timespec until{};
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 1;
  until.tv_nsec += 500000000;
  if (until.tv_nsec >= 1000000000) {
    until.tv_sec += 1;
    until.tv_nsec -= 1000000000;
  }
  if (pthread_mutex_timedlock(wanted, &until) == 0) pthread_mutex_unlock(wanted);
  pthread_mutex_unlock(held);
}

std::mutex queue_lock;
std::condition_variable queue_ready;
bool stop = false;

__attribute__((noinline)) void idle_pool_worker() {
  std::unique_lock<std::mutex> g(queue_lock);
  queue_ready.wait(g, [] { return stop; });
}

__attribute__((noinline)) void short_work() {
  volatile int x = 0;
  for (int i = 0; i < 1000000; ++i) x = x + i;
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "abba") == 0) {
    std::thread a(take_first_then_second);
    std::thread b(take_second_then_first);
    say("deadlocking");
    a.join();
    b.join();
  } else if (strcmp(mode, "abba-timed") == 0) {
    std::thread a(lock_for_a_while, &timed_first, &timed_second);
    std::thread b(lock_for_a_while, &timed_second, &timed_first);
    a.join();
    b.join();
  } else if (strcmp(mode, "async-join") == 0) {
    std::lock_guard<std::mutex> g(first_lock);
    std::future<int> f = std::async(std::launch::async, produce_under_lock);
    say("waiting");
    wait_for_answer(f);
  } else if (strcmp(mode, "future-never") == 0) {
    std::promise<int> p;
    std::future<int> f = p.get_future();
    std::thread holder(keep_the_promise, &p);
    say("waiting");
    wait_for_answer(f);
    holder.join();
  } else if (strcmp(mode, "idle-worker") == 0) {
    std::thread worker(idle_pool_worker);
    sleep(1);
    usleep(500000);
    {
      std::lock_guard<std::mutex> g(queue_lock);
      stop = true;
    }
    queue_ready.notify_all();
    worker.join();
  } else if (strcmp(mode, "joined") == 0) {
    for (int i = 0; i < 4; ++i) {
      std::thread t(short_work);
      t.join();
    }
    std::thread a(short_work), b(short_work);
    a.join();
    b.join();
  } else if (strcmp(mode, "sleeps") == 0) {
    std::thread t([] { usleep(1500000); });
    t.join();
  } else if (strcmp(mode, "main-exits") == 0) {
    std::thread([] {
      usleep(400000);
      say("done");
    }).detach();
    pthread_exit(nullptr);
  } else {
    fprintf(stderr, "unknown mode\n");
    return 2;
  }
  say("done");
  return 0;
}
