// Threads left running at exit (thread-leak) and their clean twins. Usage: leak_victim MODE
//   leaked-read     a pthread parked in read() on a pipe nobody writes, never joined
//   leaked-sleep    a std::thread (kept on the heap, never joined) parked in a sleep
//   leaked-pool     three workers started at one place, parked on a condition variable
//   leaked-mutex    a thread waiting for a mutex that main holds at exit
//   joined          clean: every thread joined before exit
//   detached        clean: threads still running at exit, detached (both ways)
//   zombie          clean: a joinable thread that ended, never joined
//   stopped-at-exit clean: an exit handler stops the thread; it ends before loopsan looks
//   sigterm         clean: leaked-read's thread, but the process ends because a SIGTERM
//                   handler told it to (a server asked to stop)
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

namespace {

int never_written[2];

// What the threads do: each parks in a function named after where it waits.
__attribute__((noinline)) void* wait_for_input(void*) {
  char c;
  ssize_t n = read(never_written[0], &c, 1);
  asm volatile("" ::: "memory");
  return reinterpret_cast<void*>(n);
}

__attribute__((noinline)) void nap_forever() {
  for (;;) {
    sleep(100);
    asm volatile("" ::: "memory");
  }
}

// On the heap and never destroyed, as a pool object a program forgets: a static condition
// variable would make exit() itself hang, in its destructor (glibc's pthread_cond_destroy waits
// for the threads still waiting on it).
struct Pool {
  std::mutex mutex;
  std::condition_variable cv;
  bool stop = false;
};
Pool* pool = new Pool;

__attribute__((noinline)) void pool_worker() {
  std::unique_lock<std::mutex> lock(pool->mutex);
  pool->cv.wait(lock, [] { return pool->stop; });
  asm volatile("" ::: "memory");
}

pthread_mutex_t held_by_main = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) void* take_the_lock(void*) {
  pthread_mutex_lock(&held_by_main);
  pthread_mutex_unlock(&held_by_main);
  asm volatile("" ::: "memory");
  return nullptr;
}

std::atomic<bool> stop{false};

void on_sigterm(int) {
  stop = true;
}

__attribute__((noinline)) void* poll_until_stopped(void*) {
  while (!stop) usleep(2000);
  return nullptr;
}

void* return_at_once(void*) {
  return nullptr;
}

// The places that create them: a finding names these in its created_stack.
__attribute__((noinline)) void start_reader() {
  pthread_t t;
  if (pthread_create(&t, nullptr, wait_for_input, nullptr) != 0) exit(2);
  asm volatile("" ::: "memory");
}

__attribute__((noinline)) void start_sleeper() {
  new std::thread(nap_forever);  // never joined, never destroyed
  asm volatile("" ::: "memory");
}

__attribute__((noinline)) void start_pool(std::thread** workers, int n) {
  for (int i = 0; i < n; ++i) workers[i] = new std::thread(pool_worker);
  asm volatile("" ::: "memory");
}

__attribute__((noinline)) void start_locker() {
  pthread_t t;
  if (pthread_create(&t, nullptr, take_the_lock, nullptr) != 0) exit(2);
  asm volatile("" ::: "memory");
}

void settle() {
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (pipe(never_written) != 0) return 2;
  if (strcmp(mode, "leaked-read") == 0) {
    start_reader();
  } else if (strcmp(mode, "leaked-sleep") == 0) {
    start_sleeper();
  } else if (strcmp(mode, "leaked-pool") == 0) {
    std::thread* workers[3];
    start_pool(workers, 3);
  } else if (strcmp(mode, "leaked-mutex") == 0) {
    pthread_mutex_lock(&held_by_main);
    start_locker();
  } else if (strcmp(mode, "joined") == 0) {
    std::thread a(nap_forever);
    a.detach();  // a sleeper detached: not a leak either
    std::thread* workers[3];
    start_pool(workers, 3);
    pthread_t t;
    pthread_create(&t, nullptr, poll_until_stopped, nullptr);
    settle();
    {
      std::lock_guard<std::mutex> lock(pool->mutex);
      pool->stop = true;
    }
    pool->cv.notify_all();
    for (std::thread* w : workers) w->join();
    stop = true;
    pthread_join(t, nullptr);
  } else if (strcmp(mode, "detached") == 0) {
    pthread_t t;
    pthread_create(&t, nullptr, wait_for_input, nullptr);
    pthread_detach(t);  // right after creating it, as CPython does
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&t, &attr, poll_until_stopped, nullptr);
    pthread_attr_destroy(&attr);
    std::thread(nap_forever).detach();
  } else if (strcmp(mode, "zombie") == 0) {
    pthread_t t;
    pthread_create(&t, nullptr, return_at_once, nullptr);
  } else if (strcmp(mode, "stopped-at-exit") == 0) {
    pthread_t t;
    pthread_create(&t, nullptr, poll_until_stopped, nullptr);
    atexit([] {
      stop = true;
      usleep(100000);  // it ends within a few ms; never joined
    });
  } else if (strcmp(mode, "sigterm") == 0) {
    signal(SIGTERM, on_sigterm);
    start_reader();
    settle();
    raise(SIGTERM);
    while (!stop) usleep(1000);
  } else {
    fprintf(stderr, "unknown mode '%s'\n", mode);
    return 2;
  }
  settle();  // every thread is parked where it will stay
  printf("main returns\n");
  return 0;
}
