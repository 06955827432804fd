// The event loop of loop_victim and stall_victim: an epoll set whose only source is an eventfd
// the loop's own iterations write to. Each victim drives it its own way.
#pragma once

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

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
