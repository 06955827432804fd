// Every wrapped function must return exactly what libc returns and leave errno as libc leaves
// it, also on a loop thread where loopsan does real work (a finding is reported). Prints one
// line per check and exits non-zero if any check fails; the test runs it with and without the
// shim.
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

static int failures = 0;
static timeval zero_tv{0, 0};
static volatile sig_atomic_t handler_naps = 0;

__attribute__((noinline)) static void sigchld_handler_naps(int) {
  int saved = errno;
  int status;
  while (waitpid(-1, &status, WNOHANG) > 0) {
  }
  timespec nap{0, 100000};
  nanosleep(&nap, nullptr);
  ++handler_naps;
  errno = saved;
}

static void check(bool ok, const char* what) {
  printf("%s %s\n", ok ? "PASS" : "FAIL", what);
  if (!ok) ++failures;
}

int main() {
  setvbuf(stdout, nullptr, _IONBF, 0);
  // Become a loop thread first, so that the sleeps below are findings.
  int epfd = epoll_create1(0);
  epoll_event ev;
  errno = 0;
  check(epoll_wait(epfd, &ev, 1, 0) == 0 && errno == 0, "epoll_wait timeout 0 returns 0");

  errno = 0;
  check(close(-1) == -1 && errno == EBADF, "close(-1) fails with EBADF");
  errno = 0;
  check(epoll_wait(-1, &ev, 1, 0) == -1 && errno == EBADF, "epoll_wait(-1) fails with EBADF");
  errno = 0;
  timespec bad{0, 2000000000L};
  check(nanosleep(&bad, nullptr) == -1 && errno == EINVAL, "nanosleep(bad) fails with EINVAL");
  errno = 1234;
  check(clock_nanosleep(static_cast<clockid_t>(-42), 0, &bad, nullptr) == EINVAL && errno == 1234,
        "clock_nanosleep returns its error and leaves errno alone");
  errno = 0;
  check(prctl(-1, 0, 0, 0, 0) == -1 && errno == EINVAL, "prctl(bad option) fails with EINVAL");
  struct sigaction sa {};
  sa.sa_handler = SIG_DFL;
  errno = 0;
  check(sigaction(SIGKILL, &sa, nullptr) == -1 && errno == EINVAL,
        "sigaction(SIGKILL, act) fails with EINVAL");
  errno = 77;
  check(pthread_join(pthread_self(), nullptr) == EDEADLK && errno == 77,
        "pthread_join(self) returns EDEADLK and leaves errno alone");

  // Successful calls on the loop thread, each of which makes loopsan report a finding (stack
  // capture, symbolization, file I/O): errno must come back untouched.
  errno = 4321;
  timespec ms{0, 1000000};
  check(nanosleep(&ms, nullptr) == 0 && errno == 4321, "nanosleep keeps errno on success");
  errno = 4322;
  check(usleep(1000) == 0 && errno == 4322, "usleep keeps errno on success");
  errno = 4323;
  check(sleep(0) == 0 && errno == 4323, "sleep(0) keeps errno");

  // The signal the host installs is the one it reads back.
  struct sigaction mine {};
  mine.sa_handler = [](int) {};
  sigemptyset(&mine.sa_mask);
  struct sigaction old {};
  check(sigaction(SIGTERM, &mine, &old) == 0 && old.sa_handler == SIG_DFL,
        "SIGTERM starts as SIG_DFL for the host");
  struct sigaction now {};
  check(sigaction(SIGTERM, nullptr, &now) == 0 && now.sa_handler == mine.sa_handler,
        "the host reads back its own SIGTERM handler");
  check(signal(SIGTERM, SIG_DFL) == mine.sa_handler, "signal() returns the host's handler");
  check(signal(SIGTERM, SIG_DFL) == SIG_DFL, "signal() returns SIG_DFL after reset");

  // Interrupted sleep: EINTR and the remaining time, as libc reports them.
  signal(SIGUSR1, [](int) {});
  timer_t timer;
  sigevent sev{};
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGUSR1;
  timer_create(CLOCK_MONOTONIC, &sev, &timer);
  itimerspec its{};
  its.it_value.tv_nsec = 20000000;
  timer_settime(timer, 0, &its, nullptr);
  timespec long_sleep{5, 0}, rem{};
  errno = 0;
  int rc = nanosleep(&long_sleep, &rem);
  check(rc == -1 && errno == EINTR && rem.tv_sec >= 4, "interrupted nanosleep: EINTR and rem");

  // A host handler that the interrupted sleep ran: a plain (non-watched) signal goes through
  // loopsan's trampoline, and the host still reads back its own handler and flags.
  struct sigaction usr1 {};
  check(sigaction(SIGUSR1, nullptr, &usr1) == 0 && !(usr1.sa_flags & SA_SIGINFO) &&
            usr1.sa_handler != SIG_DFL && usr1.sa_handler != SIG_IGN,
        "the host reads back its SIGUSR1 handler without SA_SIGINFO");

  // Bad pointers are the kernel's to refuse: EFAULT, not a crash in a wrapper.
  errno = 0;
  check(poll(reinterpret_cast<pollfd*>(16), 3, 0) == -1 && errno == EFAULT,
        "poll(bad pointer) fails with EFAULT");
  errno = 0;
  check(
      select(5, reinterpret_cast<fd_set*>(16), nullptr, nullptr, &zero_tv) == -1 && errno == EFAULT,
      "select(bad pointer) fails with EFAULT");
  // Timed waits check their arguments even when they need not wait.
  sem_t sem;
  sem_init(&sem, 0, 1);
  errno = 0;
  check(sem_timedwait(&sem, &bad) == -1 && errno == EINVAL,
        "sem_timedwait(bad deadline) on a free semaphore fails with EINVAL");
  check(sem_trywait(&sem) == 0, "...and does not take it");
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  timespec later{time(nullptr) + 5, 0};
  check(pthread_mutex_clocklock(&m, static_cast<clockid_t>(-42), &later) == EINVAL,
        "pthread_mutex_clocklock(bad clock) on a free mutex fails with EINVAL");
  check(pthread_mutex_trylock(&m) == 0, "...and does not take it");
  pthread_mutex_unlock(&m);

  // A SIGCHLD handler on the loop thread that reaps its children and naps (nanosleep is
  // async-signal-safe, and on a loop thread always a finding): nothing is captured inside the
  // handler, where the interrupted code may hold malloc's lock (the test checks no finding
  // names sigchld_handler_naps), and the host does not deadlock allocating meanwhile.
  signal(SIGCHLD, sigchld_handler_naps);
  for (int i = 0; i < 20; ++i) {
    pid_t child = fork();
    if (child == 0) _exit(0);
    while (kill(child, 0) == 0 || errno != ESRCH) {
      void* p = malloc(64);
      free(p);
    }
  }
  signal(SIGCHLD, SIG_DFL);
  check(handler_naps > 0, "the SIGCHLD handler ran on the loop thread and returned");

  close(epfd);
  printf("%s\n", failures == 0 ? "ALL PASS" : "SOME FAILED");
  return failures == 0 ? 0 : 1;
}
