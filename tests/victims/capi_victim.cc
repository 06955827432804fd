// The C API from a program built only with include/loopsan/loopsan.h (no link dependency).
#include "loopsan/loopsan.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

__attribute__((noinline)) static void marked_loop_sleeps() {
  usleep(20000);
}
__attribute__((noinline)) static void allowed_sleep() {
  usleep(20000);
}

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  printf("active=%d\n", loopsan_active());
  if (mode == "active") return 0;
  if (mode == "marked-loop") {
    // A thread that runs a loop loopsan cannot see by itself.
    std::thread t([] {
      loopsan::LoopScope loop("custom-loop");
      marked_loop_sleeps();
      {
        loopsan::AllowBlocking allow("startup wait, accepted");
        allowed_sleep();
      }
    });
    t.join();
    // After the scope, the thread is no loop thread: no finding.
    usleep(1000);
    printf("findings=%llu\n", loopsan_findings_count());
    loopsan_flush();
    return 0;
  }
  if (mode == "named-loop") {
    // loop_threads=net-* makes this thread a loop by its name, set either way.
    std::thread t([] {
      pthread_setname_np(pthread_self(), "net-io");
      marked_loop_sleeps();
    });
    t.join();
    std::thread u([] {
      prctl(PR_SET_NAME, "io-poller", 0, 0, 0);
      marked_loop_sleeps();
    });
    u.join();
    return 0;
  }
  return 2;
}
