// The per-wrapper benchmark of tools/bench (--wrappers): nanoseconds per call of the hot calls
// the shim wraps, on a thread that runs no loop and on a loop thread (loopsan_loop_enter, a
// no-op without the shim). Every call returns at once: what is measured is the wrapper's toll
// on the fast path, not a wait. Run with and without the shim; tools/bench subtracts.
//
// usage: bench_wrappers_bench [SCALE [REPS]]   best of REPS (5) timed loops per call, printed
//                                              as one JSON line {"off-loop": {call: ns}, ...}
//        bench_wrappers_bench --callgrind SCALE  each loop once, no timing: callgrind's
//                                              inclusive count of wb_off_<i>/wb_on_<i>,
//                                              divided by the printed iterations, is the
//                                              instructions per call
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "loopsan/loopsan.h"

namespace {

// What the calls work on; one per measuring thread.
struct Ctx {
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
  timespec expired{0, 0};  // CLOCK_REALTIME's epoch: long past
  int pipe_fds[2] = {-1, -1};
  int sock_fds[2] = {-1, -1};
  int futex_word = 0;
  char byte = 'x';

  Ctx() {
    if (pipe2(pipe_fds, O_NONBLOCK) != 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sock_fds) != 0) {
      perror("wrappers_bench: pipe2/socketpair");
      exit(1);
    }
  }
  ~Ctx() {
    for (int fd : {pipe_fds[0], pipe_fds[1], sock_fds[0], sock_fds[1]}) close(fd);
  }
};

void check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "wrappers_bench: %s failed: %s\n", what, strerror(errno));
    exit(1);
  }
}

// The calls, in table order. Each is one round of the measured loop.
#define LOOPSAN_WRAPPER_CALLS(X)                                                                  \
  X(0, "pthread_mutex_lock+unlock", pthread_mutex_lock(&c.mutex); pthread_mutex_unlock(&c.mutex)) \
  X(1, "pthread_cond_signal (no waiter)", pthread_cond_signal(&c.cond))                           \
  X(2, "pthread_cond_timedwait (expired)", pthread_mutex_lock(&c.mutex);                          \
    check(pthread_cond_timedwait(&c.cond, &c.mutex, &c.expired) == ETIMEDOUT,                     \
          "pthread_cond_timedwait");                                                              \
    pthread_mutex_unlock(&c.mutex))                                                               \
  X(3, "write+read 1 byte (pipe, O_NONBLOCK)",                                                    \
    check(write(c.pipe_fds[1], &c.byte, 1) == 1, "write");                                        \
    check(read(c.pipe_fds[0], &c.byte, 1) == 1, "read"))                                          \
  X(4, "send+recv 1 byte (socketpair, O_NONBLOCK)",                                               \
    check(send(c.sock_fds[0], &c.byte, 1, 0) == 1, "send");                                       \
    check(recv(c.sock_fds[1], &c.byte, 1, 0) == 1, "recv"))                                       \
  X(5, "syscall(SYS_futex, FUTEX_WAKE) (no waiter)",                                              \
    syscall(SYS_futex, &c.futex_word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, nullptr, nullptr, 0))   \
  X(6, "syscall(SYS_getpid)", syscall(SYS_getpid))                                                \
  X(7, "close(-1) (EBADF)", close(-1))

// Iterations per timed loop at scale 1: 25-150 ms each on the development VM, where a syscall
// costs 150 ns and a futex wait that times out at once 25 us (a Firecracker guest's timers).
constexpr long kIterations[] = {5'000'000, 10'000'000, 5'000,   100'000,
                                50'000,    300'000,    500'000, 500'000};
constexpr const char* kNames[] = {
#define LOOPSAN_NAME(i, name, ...) name,
    LOOPSAN_WRAPPER_CALLS(LOOPSAN_NAME)
#undef LOOPSAN_NAME
};
constexpr int kCalls = sizeof(kNames) / sizeof(kNames[0]);

}  // namespace

// One measured loop per call and per kind of thread, with names callgrind can find (the two
// bodies are the same; the name says which thread ran it), and a warm-up loop that is
// neither, so that lazy binding and first-call paths stay out of the counts.
#define LOOPSAN_LOOP(prefix, i, ...)                                    \
  extern "C" __attribute__((noinline)) void prefix##i(Ctx& c, long n) { \
    for (long k = 0; k < n; ++k) {                                      \
      __VA_ARGS__;                                                      \
    }                                                                   \
  }
#define LOOPSAN_LOOPS(i, name, ...)     \
  LOOPSAN_LOOP(wb_off_, i, __VA_ARGS__) \
  LOOPSAN_LOOP(wb_on_, i, __VA_ARGS__)  \
  LOOPSAN_LOOP(wb_warm_, i, __VA_ARGS__)
LOOPSAN_WRAPPER_CALLS(LOOPSAN_LOOPS)
#undef LOOPSAN_LOOPS

namespace {

using Loop = void (*)(Ctx&, long);
#define LOOPSAN_OFF(i, ...) wb_off_##i,
#define LOOPSAN_ON(i, ...) wb_on_##i,
#define LOOPSAN_WARM(i, ...) wb_warm_##i,
constexpr Loop kOff[] = {LOOPSAN_WRAPPER_CALLS(LOOPSAN_OFF)};
constexpr Loop kOn[] = {LOOPSAN_WRAPPER_CALLS(LOOPSAN_ON)};
constexpr Loop kWarm[] = {LOOPSAN_WRAPPER_CALLS(LOOPSAN_WARM)};
#undef LOOPSAN_OFF
#undef LOOPSAN_ON
#undef LOOPSAN_WARM

// Best (lowest) ns per call over `reps` loops of each call, on the calling thread. With
// reps == 0 (callgrind), each loop runs once untimed.
std::vector<double> measure(const Loop* loops, double scale, int reps) {
  Ctx c;
  std::vector<double> best(kCalls, 0);
  for (int i = 0; i < kCalls; ++i) {
    long n = std::max(1L, static_cast<long>(kIterations[i] * scale));
    kWarm[i](c, 16);  // lazy binding, first-call paths, caches
    if (reps == 0) {
      loops[i](c, n);
      continue;
    }
    for (int r = 0; r < reps; ++r) {
      auto start = std::chrono::steady_clock::now();
      loops[i](c, n);
      double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
                      .count() /
                  n;
      if (r == 0 || ns < best[i]) best[i] = ns;
    }
  }
  return best;
}

std::string json_object(const std::vector<double>& values) {
  std::string out = "{";
  for (int i = 0; i < kCalls; ++i) {
    char buf[160];
    snprintf(buf, sizeof buf, "%s\"%s\": %.3f", i ? ", " : "", kNames[i], values[i]);
    out += buf;
  }
  return out + "}";
}

}  // namespace

int main(int argc, char** argv) {
  bool callgrind = argc > 1 && strcmp(argv[1], "--callgrind") == 0;
  if (callgrind) ++argv, --argc;
  double scale = argc > 1 ? atof(argv[1]) : 1.0;
  int reps = callgrind ? 0 : argc > 2 ? atoi(argv[2]) : 5;
  if (scale <= 0 || (!callgrind && reps <= 0)) {
    fprintf(stderr, "usage: %s [--callgrind] [SCALE [REPS]]\n", argv[0]);
    return 2;
  }

  // One thread at a time, never both at once: each has the machine to itself.
  std::vector<double> off, on;
  std::thread([&] { off = measure(kOff, scale, reps); }).join();
  std::thread([&] {
    loopsan_loop_enter("bench");
    on = measure(kOn, scale, reps);
    loopsan_loop_exit();
  }).join();

  if (callgrind) {
    std::vector<double> iterations;
    for (int i = 0; i < kCalls; ++i)
      iterations.push_back(std::max(1L, static_cast<long>(kIterations[i] * scale)));
    printf("{\"iterations\": %s}\n", json_object(iterations).c_str());
  } else {
    printf("{\"off-loop\": %s, \"on-loop\": %s}\n", json_object(off).c_str(),
           json_object(on).c_str());
  }
  return 0;
}
