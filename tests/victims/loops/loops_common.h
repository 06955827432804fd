// Helpers shared by the library event-loop victims (C and C++). None of them is a finding by
// itself: they run before a loop starts, after it ended, or on other threads. The functions
// that block inside loop callbacks live in each victim, noinline and uniquely named, so that
// the tests can find them in the reported stacks.
#pragma once

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// How long another thread holds a lock, or delays a value, that a loop callback waits for:
// well above the default block_threshold_ms (100) even on a loaded machine.
#define LV_CONTENDED_MS 350

static inline void lv_die(const char* what) {
  fprintf(stderr, "victim: %s: %s\n", what, strerror(errno));
  exit(3);
}

// A blocking TCP listener on 127.0.0.1 with a port chosen by the kernel. A connect() to it
// completes from the backlog, nobody needs to accept.
static inline int lv_listener(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) lv_die("socket");
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd, (struct sockaddr*)&addr, sizeof addr) != 0) lv_die("bind");
  if (listen(fd, 16) != 0) lv_die("listen");
  if (getsockname(fd, (struct sockaddr*)&addr, &len) != 0) lv_die("getsockname");
  *port = ntohs(addr.sin_port);
  return fd;
}

static inline struct sockaddr_in lv_loopback(int port) {
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons((unsigned short)port);
  return addr;
}

// A temporary regular file, already unlinked, to write and fsync.
static inline int lv_temp_file(void) {
  const char* dir = getenv("TMPDIR");
  char path[512];
  snprintf(path, sizeof path, "%s/loopsan-loops-XXXXXX", dir && *dir ? dir : "/tmp");
  int fd = mkstemp(path);
  if (fd < 0) lv_die("mkstemp");
  unlink(path);
  return fd;
}

// A child process that exits after `ms` milliseconds. Fork it before the loop starts (or after
// it ended): the child's sleep must not happen on a loop thread.
static inline pid_t lv_child(int ms) {
  pid_t pid = fork();
  if (pid < 0) lv_die("fork");
  if (pid == 0) {
    usleep((useconds_t)ms * 1000);
    _exit(0);
  }
  return pid;
}

// Another thread that holds a pthread mutex for `ms` milliseconds. lv_hold() returns once the
// mutex is held; it spins with sched_yield (no call loopsan looks at).
struct lv_holder {
  pthread_mutex_t* mutex;
  int ms;
  int held;
  pthread_t thread;
};

static inline void* lv_holder_main(void* arg) {
  struct lv_holder* h = (struct lv_holder*)arg;
  pthread_mutex_lock(h->mutex);
  __atomic_store_n(&h->held, 1, __ATOMIC_RELEASE);
  usleep((useconds_t)h->ms * 1000);
  pthread_mutex_unlock(h->mutex);
  return NULL;
}

static inline void lv_hold(struct lv_holder* h, pthread_mutex_t* mutex, int ms) {
  h->mutex = mutex;
  h->ms = ms;
  h->held = 0;
  if (pthread_create(&h->thread, NULL, lv_holder_main, h) != 0) lv_die("pthread_create");
  while (!__atomic_load_n(&h->held, __ATOMIC_ACQUIRE)) sched_yield();
}

static inline void lv_holder_join(struct lv_holder* h) {
  pthread_join(h->thread, NULL);
}

// Milliseconds of CLOCK_MONOTONIC, to print how long a call waited.
static inline long lv_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

// What a program does at shutdown once its loop function returned: all of it may block, none
// of it on a loop. Shared by the libuv and libevent victims (GLib's uses GLib's own calls).
__attribute__((noinline, unused)) static void lv_shutdown_after_loop(const char* loop_function,
                                                                     struct lv_holder* holder,
                                                                     pthread_mutex_t* mutex) {
  usleep(50 * 1000);
  pid_t pid = lv_child(30);
  if (waitpid(pid, NULL, 0) != pid) lv_die("waitpid");
  int fd = lv_temp_file();
  if (write(fd, "state\n", 6) != 6 || fsync(fd) != 0) lv_die("fsync");
  close(fd);
  lv_hold(holder, mutex, LV_CONTENDED_MS);
  long start = lv_now_ms();
  pthread_mutex_lock(mutex);
  long waited = lv_now_ms() - start;
  pthread_mutex_unlock(mutex);
  printf("after %s: usleep, waitpid, fsync, a mutex that waited %ld ms\n", loop_function, waited);
}
