// A minimal epoll server loop whose request handler sleeps to "throttle" clients:
// the whole loop stops while it does.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <thread>

namespace {

void throttle_client() {
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

__attribute__((noinline)) void handle_request(int request) {
  if (request % 2 == 1) throttle_client();  // the bug
  std::printf("served request %d\n", request);
}

}  // namespace

int main() {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  int events = eventfd(0, EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  epoll_ctl(epfd, EPOLL_CTL_ADD, events, &ev);
  for (int request = 0; request < 4; ++request) {
    uint64_t one = 1;
    if (write(events, &one, sizeof one) < 0) return 1;
    epoll_event ready;
    if (epoll_wait(epfd, &ready, 1, 1000) == 1 && read(events, &one, sizeof one) > 0) {
      handle_request(request);
    }
  }
  close(events);
  close(epfd);
  return 0;
}
