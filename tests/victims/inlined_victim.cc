// Built -O2 -g, as release code is: the guilty functions are static and inlined into their
// callers (main, a thread's lambda), so only DWARF's inlined-subroutine records still name them.
//   inlined_victim main FILE     a loop tick in main calls refresh_config -> fsync
//   inlined_victim thread FILE   the same from a loop thread started with std::thread
//   inlined_victim throw FILE    a thread lambda calls validate_config, which throws into a
//                                std::promise whose future nobody reads
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <future>
#include <stdexcept>
#include <thread>

#include "loopsan/loopsan.h"

static void refresh_config(const char* path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  if (write(fd, "x\n", 2) == 2) fsync(fd);  // BLOCKING-LINE
  close(fd);
}

static void on_tick(const char* path) {
  refresh_config(path);  // TICK-LINE
}

// One tick of an epoll loop: the thread waits on its set, then runs the callback.
static void one_tick(const char* path) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev;
  epoll_wait(ep, &ev, 1, 0);
  on_tick(path);
  close(ep);
}

static void validate_config(const char* path) {
  if (path[0] != '\0') throw std::runtime_error("bad config");  // THROW-LINE
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  if (strcmp(argv[1], "main") == 0) {
    one_tick(argv[2]);
  } else if (strcmp(argv[1], "thread") == 0) {
    std::thread([path = argv[2]] { one_tick(path); }).join();
  } else if (strcmp(argv[1], "throw") == 0) {
    std::promise<void> result;
    std::future<void> never_read = result.get_future();
    std::thread([&result, path = argv[2]] {
      try {
        validate_config(path);
        result.set_value();
      } catch (...) {
        result.set_exception(std::current_exception());
      }
    }).join();
  } else {
    return 2;
  }
  printf("done\n");
  return 0;
}
