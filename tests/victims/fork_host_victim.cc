// fork() in a host whose library has fork handlers (fork_host_lib.cc), while another thread
// holds that library's mutex and meanwhile makes loopsan work (throws, pins and rethrows
// exceptions). Neither side may wait for the other through loopsan. Each child blocks its
// event loop once (a finding of its own) and exits; a child that hangs is killed by its alarm.
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <thread>

#include "loopsan/loopsan.h"

extern pthread_mutex_t g_library_mutex;

namespace {

__attribute__((noinline)) void forked_child_blocks() {
  usleep(1000);
}

}  // namespace

int main(int argc, char** argv) {
  int children = argc > 1 ? atoi(argv[1]) : 200;
  std::atomic<bool> stop{false};
  std::thread worker([&stop] {
    while (!stop.load()) {
      pthread_mutex_lock(&g_library_mutex);
      try {
        std::rethrow_exception(std::make_exception_ptr(std::runtime_error("inside the lock")));
      } catch (const std::exception&) {
      }
      pthread_mutex_unlock(&g_library_mutex);
    }
  });
  int failed = 0;
  for (int i = 0; i < children; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      alarm(20);
      loopsan_loop_enter("child");
      forked_child_blocks();
      loopsan_loop_exit();
      exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  stop = true;
  worker.join();
  printf("children %d failed %d\n", children, failed);
  return failed == 0 ? 0 : 1;
}
