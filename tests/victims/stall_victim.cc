// Loops that stall, and loops that do not, selected by argv[1] (tests/integration/stall_test.cc).
// Built -O2 like release code: the busy functions are noinline so that a sampled stack can name
// them. Every mode prints "done" at its end, and whatever it counted.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "eventfd_loop.h"

namespace {

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

// CPU work for `ms` milliseconds of wall time, in a loop the optimizer cannot remove.
__attribute__((noinline)) uint64_t busy_hash(int ms) {
  uint64_t h = 1469598103934665603ull;
  int64_t end = now_ms() + ms;
  while (now_ms() < end) {
    for (int i = 0; i < 1000; ++i) h = (h ^ static_cast<uint64_t>(i)) * 1099511628211ull;
  }
  return h;
}

// A second place to stall in, called after the first.
__attribute__((noinline)) uint64_t busy_checksum(int ms) {
  uint64_t h = 7;
  int64_t end = now_ms() + ms;
  while (now_ms() < end) {
    for (int i = 0; i < 1000; ++i) h = h * 31 + static_cast<uint64_t>(i);
  }
  return h;
}

std::atomic<uint64_t> sink{0};

__attribute__((noinline)) void on_request_hashes(int) {
  sink += busy_hash(400);
}

// The loop's callbacks do CPU work, then the host's own waits: none of them may fail with EINTR
// because the thread was sampled in between.

__attribute__((noinline)) void on_tick_computes_then_waits(int) {
  sink += busy_hash(130);
  timespec ts{0, 2000000};
  if (nanosleep(&ts, nullptr) != 0 && errno == EINTR) ++eintrs;
  int p[2];
  if (pipe(p) != 0) exit(93);
  pollfd pfd{p[0], POLLIN, 0};
  if (poll(&pfd, 1, 2) < 0 && errno == EINTR) ++eintrs;
  char c = 'x';
  if (write(p[1], &c, 1) != 1) exit(94);
  if (read(p[0], &c, 1) < 0 && errno == EINTR) ++eintrs;
  close(p[0]);
  close(p[1]);
}

std::atomic<int> host_signals{0};
void count_signal(int) {
  ++host_signals;
}

int cpu_in_callback() {
  Loop l = make_loop();
  run_loop(l, 5, [](int i) {
    if (i == 2) on_request_hashes(i);
  });
  close_loop(l);
  return 0;
}

int two_places() {
  Loop l = make_loop();
  run_loop(l, 3, [](int i) {
    if (i == 1) {
      sink += busy_hash(120);
      sink += busy_checksum(500);
    }
  });
  close_loop(l);
  return 0;
}

int on_a_thread() {
  std::thread t([] {
    pthread_setname_np(pthread_self(), "stall-loop");
    Loop l = make_loop();
    run_loop(l, 4, [](int i) {
      if (i == 1) on_request_hashes(i);
    });
    close_loop(l);
  });
  t.join();
  return 0;
}

int eintr(int ticks) {
  Loop l = make_loop();
  run_loop(l, ticks, on_tick_computes_then_waits);
  close_loop(l);
  printf("eintr=%d\n", eintrs.load());
  return 0;
}

// A profiler of the host's own: SIGPROF every 1 ms of CPU time, counted.
int with_profiler() {
  struct sigaction sa {};
  sa.sa_handler = count_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGPROF, &sa, nullptr);
  itimerval it{{0, 1000}, {0, 1000}};
  setitimer(ITIMER_PROF, &it, nullptr);
  int rc = eintr(4);
  itimerval off{};
  setitimer(ITIMER_PROF, &off, nullptr);
  printf("sigprof=%d\n", host_signals.load() > 0 ? 1 : 0);
  return rc;
}

// The host's own handlers without SA_RESTART, for SIGURG too: the sampler must use another
// signal and never run the host's handler.
int host_handlers() {
  struct sigaction sa {};
  sa.sa_handler = count_signal;
  sa.sa_flags = 0;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGURG, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);
  int rc = eintr(4);
  printf("host_signals=%d\n", host_signals.load());
  return rc;
}

// The loop thread blocks every signal: sampling degrades, nothing breaks.
int blocked() {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  return cpu_in_callback();
}

// The loop thread has an alternate signal stack of `bytes` (the sampler's handler runs on it).
int with_altstack(size_t bytes) {
  static char storage[1 << 20] __attribute__((aligned(16)));
  stack_t ss{};
  ss.ss_sp = storage;
  ss.ss_size = bytes < sizeof storage ? bytes : sizeof storage;
  if (sigaltstack(&ss, nullptr) != 0) return 4;
  return cpu_in_callback();
}

// Stalls forever: the test kills it with SIGKILL once the finding is in the report.
int forever() {
  Loop l = make_loop();
  run_loop(l, 2, [](int i) {
    if (i == 1) {
      printf("stalling\n");
      fflush(stdout);
      for (;;) sink += busy_hash(1000);
    }
  });
  return 0;
}

__attribute__((noinline)) void on_request_hashes_short() {
  sink += busy_hash(120);
}

// The same short stall, many times.
int many(int times) {
  Loop l = make_loop();
  run_loop(l, times, [](int) { on_request_hashes_short(); });
  close_loop(l);
  return 0;
}

// A callback parked in a wait loopsan does not wrap (a signal that never comes): a stall that
// is not computing.
__attribute__((noinline)) void on_tick_waits_for_a_signal(int) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  timespec timeout{0, 300000000};
  sigtimedwait(&set, nullptr, &timeout);
}

// A callback that sleeps: a blocking call (reported as one), not also a stall.
__attribute__((noinline)) void on_tick_sleeps(int) {
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
}

int parked(bool sleeps) {
  Loop l = make_loop();
  run_loop(l, 3, [sleeps](int i) {
    if (i == 1) {
      if (sleeps) {
        on_tick_sleeps(i);
      } else {
        on_tick_waits_for_a_signal(i);
      }
    }
  });
  close_loop(l);
  return 0;
}

// Clean: a loop idle in its wait for a long time, then short callbacks; sleeps off the loop.
int clean() {
  Loop l = make_loop();
  epoll_event ev;
  uint64_t one = 1;
  if (epoll_wait(l.epfd, &ev, 1, 600) != 0) exit(95);  // idle: nothing is ready for 600 ms
  std::thread off([] { std::this_thread::sleep_for(std::chrono::milliseconds(400)); });
  run_loop(l, 200, [](int) { sink += busy_hash(1); });
  if (write(l.efd, &one, sizeof one) != sizeof one) exit(96);
  close_loop(l);
  off.join();
  // After the loop: code that is not a loop's may take its time.
  sink += busy_hash(400);
  return 0;
}

// The watchdog thread's CPU time (µs, from its CPU clock) and voluntary context switches (its
// wake-ups, from /proc): -1 when there is none.
void watchdog_stats(long* cpu_us, long* switches) {
  *cpu_us = *switches = -1;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return;
  while (dirent* entry = readdir(dir)) {
    int tid = atoi(entry->d_name);
    if (tid <= 0) continue;
    char path[64], text[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
    FILE* f = fopen(path, "r");
    if (f == nullptr) continue;
    bool ours = fgets(text, sizeof text, f) != nullptr && strncmp(text, "loopsan-watch", 13) == 0;
    fclose(f);
    if (!ours) continue;
    // A thread's CPU clock id, as glibc's pthread_getcpuclockid makes it from its tid.
    clockid_t clock = static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6);
    timespec ts{};
    if (clock_gettime(clock, &ts) == 0) *cpu_us = ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
    if ((f = fopen(path, "r")) != nullptr) {
      while (fgets(text, sizeof text, f) != nullptr) {
        if (strncmp(text, "voluntary_ctxt_switches:", 24) == 0) *switches = atol(text + 24);
      }
      fclose(f);
    }
    break;
  }
  closedir(dir);
}

// How much the watchdog costs over `seconds` while a loop thread sits in its wait with no
// timer (`idle`), with a timer that fires every `period_ms`, or runs short callbacks back to
// back (`busy`). Measured from the main thread, which runs no loop.
enum class Load { kIdle, kTimer, kBusy };
int measure(int seconds, Load load, int period_ms) {
  std::atomic<int> phase{0};
  Loop l = make_loop();
  int l_efd = l.efd;
  std::thread loop([&] {
    run_loop(l, 1, [](int) {});
    phase = 1;
    while (phase == 1) {
      if (load == Load::kBusy) {
        run_loop(l, 1, [](int) { sink += busy_hash(1); });
      } else {
        epoll_event ev;
        // Idle: woken only by the eventfd at the end (or every period_ms: a timer).
        if (epoll_wait(l.epfd, &ev, 1, load == Load::kIdle ? -1 : period_ms) == 1) {
          uint64_t value;
          if (read(l.efd, &value, sizeof value) != sizeof value) exit(97);
        }
      }
    }
    close_loop(l);
  });
  while (phase == 0) usleep(1000);
  long cpu0 = -1, sw0 = -1, cpu1, sw1;
  // The loop's first return started the watchdog; give it time to settle (a loaded machine).
  for (int i = 0; i < 500 && cpu0 < 0; ++i) {
    usleep(10000);
    watchdog_stats(&cpu0, &sw0);
  }
  usleep(200000);
  watchdog_stats(&cpu0, &sw0);
  sleep(static_cast<unsigned>(seconds));
  watchdog_stats(&cpu1, &sw1);
  phase = 2;
  uint64_t one = 1;
  if (write(l_efd, &one, sizeof one) != sizeof one) exit(98);
  loop.join();
  printf("watchdog_cpu_us=%ld watchdog_wakeups=%ld seconds=%d\n", cpu1 - cpu0, sw1 - sw0, seconds);
  return cpu0 < 0 ? 3 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  int rc = 2;
  if (mode == "cpu-in-callback") rc = cpu_in_callback();
  if (mode == "two-places") rc = two_places();
  if (mode == "on-a-thread") rc = on_a_thread();
  if (mode == "eintr") rc = eintr(argc > 2 ? atoi(argv[2]) : 10);
  if (mode == "profiler") rc = with_profiler();
  if (mode == "host-handlers") rc = host_handlers();
  if (mode == "blocked") rc = blocked();
  if (mode == "forever") rc = forever();
  if (mode == "many") rc = many(argc > 2 ? atoi(argv[2]) : 20);
  if (mode == "parked") rc = parked(false);
  if (mode == "sleeps") rc = parked(true);
  if (mode == "clean") rc = clean();
  if (mode == "altstack") rc = with_altstack(static_cast<size_t>(argc > 2 ? atol(argv[2]) : 0));
  int seconds = argc > 2 ? atoi(argv[2]) : 1;
  if (mode == "idle") rc = measure(seconds, Load::kIdle, 0);
  if (mode == "timer") rc = measure(seconds, Load::kTimer, argc > 3 ? atoi(argv[3]) : 50);
  if (mode == "busy") rc = measure(seconds, Load::kBusy, 0);
  if (rc == 0) printf("done\n");
  return rc;
}
