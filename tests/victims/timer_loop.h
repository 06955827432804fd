// The event loop of the catalogue and descriptor-reuse victims: an epoll set whose only source
// is a timerfd that fires once, 1 ms after it is armed. The thread that waits on it runs a loop
// until close_timer_loop() closes the epoll set.
#pragma once

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

struct TimerLoop {
  int epfd = -1;
  int timer = -1;
};

// False if a descriptor could not be made.
inline bool open_timer_loop(TimerLoop& l) {
  l.epfd = epoll_create1(EPOLL_CLOEXEC);
  l.timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (l.epfd < 0 || l.timer < 0) return false;
  itimerspec its{};
  its.it_value.tv_nsec = 1000000;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = l.timer;
  return timerfd_settime(l.timer, 0, &its, nullptr) == 0 &&
         epoll_ctl(l.epfd, EPOLL_CTL_ADD, l.timer, &ev) == 0;
}

// The loop's wait, until the timer fires (at most 5 s). False if it did not.
inline bool wait_timer_loop(const TimerLoop& l) {
  epoll_event ready{};
  return epoll_wait(l.epfd, &ready, 1, 5000) == 1 && ready.data.fd == l.timer;
}

// The loop is over: what the thread does next runs on no loop.
inline void close_timer_loop(TimerLoop& l) {
  close(l.timer);
  close(l.epfd);
}
