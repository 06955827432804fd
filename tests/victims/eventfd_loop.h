// The event loop of loop_victim and stall_victim: an epoll set whose only source is an eventfd
// the loop's own iterations write to, and run_loop, which drives it.
#pragma once

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <type_traits>

struct Loop {
  int epfd;
  int efd;
};

inline Loop make_loop() {
  Loop l;
  l.epfd = epoll_create1(EPOLL_CLOEXEC);
  l.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = l.efd;
  epoll_ctl(l.epfd, EPOLL_CTL_ADD, l.efd, &ev);
  return l;
}

// The loop is over: what the thread does next runs on no loop.
inline void close_loop(Loop& l) {
  close(l.efd);
  close(l.epfd);
}

// Waits of the host's interrupted by a signal (EINTR), counted: loopsan's sampling signal must
// never cause one (stall_victim prints the count; its own waits add to it too).
inline std::atomic<int> eintrs{0};

// Runs `ticks` iterations: each wakes the loop through its eventfd, waits for it in the loop's
// own epoll_wait (retried, and counted, when interrupted), then calls `callback`, with the
// iteration's number if it takes one. Any other failure ends the process.
template <typename F>
void run_loop(Loop& l, int ticks, F&& callback) {
  for (int i = 0; i < ticks; ++i) {
    uint64_t one = 1;
    if (write(l.efd, &one, sizeof one) != sizeof one) exit(90);
    epoll_event ev;
    int n;
    while ((n = epoll_wait(l.epfd, &ev, 1, 5000)) < 0 && errno == EINTR) ++eintrs;
    if (n != 1) exit(91);
    uint64_t value;
    if (read(l.efd, &value, sizeof value) != sizeof value) exit(92);
    if constexpr (std::is_invocable_v<F&, int>) {
      callback(i);
    } else {
      callback();
    }
  }
}
