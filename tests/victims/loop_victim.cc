// A small epoll event loop with known bugs, selected by argv[1]. Functions that block are
// noinline and have distinct names: the tests look for them in the reported stacks.
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <setjmp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "eventfd_loop.h"

using namespace std::chrono_literals;

namespace {

__attribute__((noinline)) void on_tick_sleeps() {
  std::this_thread::sleep_for(20ms);
}
__attribute__((noinline)) void second_site_sleeps() {
  usleep(20000);
}
__attribute__((noinline)) void child_tick_sleeps() {
  std::this_thread::sleep_for(20ms);
}
__attribute__((noinline)) void after_loop_sleeps() {
  std::this_thread::sleep_for(20ms);
}
__attribute__((noinline)) void worker_sleeps() {
  std::this_thread::sleep_for(20ms);
}
__attribute__((noinline)) void save_state(const char* path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, "state\n", 6) != 6 || fsync(fd) != 0) exit(93);
  close(fd);
}
__attribute__((noinline)) void on_tick_saves_state(const char* path) {
  save_state(path);
}

// fsync() in a loop callback (the bug), then the same save from a worker thread (fine).
int fsync_in_loop(const char* path) {
  Loop l = make_loop();
  run_loop(l, 1, [path] { on_tick_saves_state(path); });
  close_loop(l);  // a hand-written epoll loop ends when its descriptor is closed
  std::thread worker([path] { save_state(path); });
  worker.join();
  return 0;
}

int sleep_in_loop() {
  Loop l = make_loop();
  run_loop(l, 3, on_tick_sleeps);  // the same bug three times: one finding, two repeats
  close_loop(l);
  return 0;
}

// A callback that reads a pipe nobody writes to: the loop is frozen for good, and the test kills
// the process once loopsan has said so.
__attribute__((noinline)) void on_tick_reads_forever(int fd) {
  char c;
  printf("reading\n");
  fflush(stdout);
  if (read(fd, &c, 1) >= 0) exit(94);
}
int read_forever() {
  int fds[2];
  if (pipe(fds) != 0) return 95;
  Loop l = make_loop();
  run_loop(l, 1, [&] { on_tick_reads_forever(fds[0]); });
  return 96;
}

// No finding: after its loop is over, main joins a worker that computes for 1.5 s (longer than
// the test's hang threshold): the loop is not frozen, it is finished.
__attribute__((noinline)) void compute_for_a_while() {
  auto end = std::chrono::steady_clock::now() + 1500ms;
  volatile unsigned long n = 0;
  while (std::chrono::steady_clock::now() < end) n = n + 1;
}
int join_after_loop() {
  Loop l = make_loop();
  run_loop(l, 3, [] {});
  close_loop(l);
  std::thread worker(compute_for_a_while);
  worker.join();
  return 0;
}

// A SIGINT handler that leaves by siglongjmp (a REPL's), then the sleep-in-loop bug: the
// thread is no longer in a signal handler, and the bug is found.
sigjmp_buf interrupted;
void on_sigint(int) {
  siglongjmp(interrupted, 1);
}
int sleep_after_longjmp() {
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigaction(SIGINT, &sa, nullptr);
  if (sigsetjmp(interrupted, 1) == 0) raise(SIGINT);
  return sleep_in_loop();
}

// No finding: the sleeps happen after the loop is closed, or on another thread.
int clean() {
  Loop l = make_loop();
  std::thread worker([] { worker_sleeps(); });
  run_loop(l, 3, [] {});
  close_loop(l);
  worker.join();
  after_loop_sleeps();
  // A new loop on the same descriptor number that never blocks.
  Loop again = make_loop();
  run_loop(again, 2, [] {});
  close_loop(again);
  after_loop_sleeps();
  return 0;
}

int crash() {
  Loop l = make_loop();
  run_loop(l, 1, on_tick_sleeps);
  volatile int* null = nullptr;
  *null = 1;  // SIGSEGV from a real fault
  return 0;
}

int close_all() {
  Loop l = make_loop();
  run_loop(l, 1, on_tick_sleeps);
  // Like a daemon: close every descriptor, then reopen low numbers for other files.
  for (int fd = 3; fd < 4096; ++fd) close(fd);
  int opened[8];
  for (int& fd : opened) fd = open("/dev/null", O_RDONLY);
  Loop again = make_loop();
  run_loop(again, 1, second_site_sleeps);
  for (int fd : opened) close(fd);
  return 0;
}

// Like close_all, but the host then opens files until it has the numbers loopsan's helpers
// used (libunwind's validation pipe sits at the top of the range): the next stack capture
// must not read, write or close any of them.
int close_all_reuse() {
  Loop l = make_loop();
  run_loop(l, 1, on_tick_sleeps);
  for (int fd = 3; fd < 4096; ++fd) close(fd);
  char path[] = "/tmp/loopsan-reuse-XXXXXX";
  int first = mkstemp(path);
  unlink(path);
  std::vector<int> files{first};
  while (files.back() < 1010) {
    int fd = dup(first);
    if (fd < 0) break;
    files.push_back(fd);
  }
  // On a new thread: its stack pages are new to libunwind, which validates them.
  std::thread([] {
    Loop again = make_loop();
    run_loop(again, 1, second_site_sleeps);
  }).join();
  struct stat st {};
  fstat(first, &st);
  int closed = 0;
  for (int fd : files) closed += fcntl(fd, F_GETFD) < 0 ? 1 : 0;
  printf("highest %d size %lld closed %d\n", files.back(), static_cast<long long>(st.st_size),
         closed);
  return st.st_size == 0 && closed == 0 ? 0 : 1;
}

int fork_child() {
  Loop l = make_loop();
  run_loop(l, 1, on_tick_sleeps);
  pid_t pid = fork();
  if (pid == 0) {
    Loop child = make_loop();
    run_loop(child, 1, child_tick_sleeps);
    _exit(0);
  }
  close_loop(l);  // waiting for the child is not the loop's business
  int status = 0;
  waitpid(pid, &status, 0);
  printf("child %d\n", pid);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

// Forks while other threads keep the agent's tables busy (thread registry, pinned
// exceptions, the report file): each child must find them whole, start a thread of its own,
// report its own finding and exit. A child that hangs on a lock taken by a thread that does
// not exist in it is killed by its alarm.
int fork_while_busy(int children) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> churn;
  for (int i = 0; i < 3; ++i) {
    churn.emplace_back([&stop] {
      while (!stop.load()) {
        std::thread([] {}).join();
        std::exception_ptr e = std::make_exception_ptr(std::runtime_error("churn"));
        try {
          std::rethrow_exception(e);
        } catch (const std::exception&) {
        }
        Loop l = make_loop();
        run_loop(l, 1, on_tick_sleeps);
        close_loop(l);
      }
    });
  }
  int failed = 0;
  for (int i = 0; i < children; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      alarm(30);
      std::thread([] {}).join();
      Loop child = make_loop();
      run_loop(child, 1, child_tick_sleeps);
      close_loop(child);
      exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  stop = true;
  for (auto& t : churn) t.join();
  printf("children %d failed %d\n", children, failed);
  return failed == 0 ? 0 : 1;
}

int exit_with(int status, bool with_finding) {
  Loop l = make_loop();
  run_loop(
      l, 1, with_finding ? on_tick_sleeps : [] {});
  close_loop(l);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  setvbuf(stdout, nullptr, _IONBF, 0);
  if (mode == "sleep-in-loop") return sleep_in_loop();
  if (mode == "sleep-after-longjmp") return sleep_after_longjmp();
  if (mode == "read-forever") return read_forever();
  if (mode == "join-after-loop") return join_after_loop();
  if (mode == "clean") return clean();
  if (mode == "fsync-in-loop") return fsync_in_loop(argv[2]);
  if (mode == "crash") return crash();
  if (mode == "close-all") return close_all();
  if (mode == "close-all-reuse") return close_all_reuse();
  if (mode == "fork") return fork_child();
  if (mode == "fork-while-busy") return fork_while_busy(atoi(argv[2]));
  if (mode == "exit") return exit_with(atoi(argv[2]), argc > 3 && strcmp(argv[3], "finding") == 0);
  if (mode == "_exit") {
    exit_with(0, true);
    _exit(atoi(argv[2]));
  }
  if (mode == "abort") {
    exit_with(0, true);
    abort();
  }
  if (mode == "exec") {
    exit_with(0, true);
    execl("/bin/true", "true", static_cast<char*>(nullptr));
    return 99;
  }
  fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
  return 2;
}
