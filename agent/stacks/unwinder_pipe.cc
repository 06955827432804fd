#include "agent/stacks/unwinder_pipe.h"

#include <atomic>

namespace loopsan::unwinder_pipe {

int g_fds[2] = {-1, -1};

namespace {
std::atomic<int*> libunwind_array{nullptr};
}  // namespace

void adopt(int* libunwind_fds) {
  libunwind_array.store(libunwind_fds, std::memory_order_release);
  g_fds[0] = libunwind_fds[0];
  g_fds[1] = libunwind_fds[1];
}

bool in_range(unsigned first, unsigned last) {
  for (int fd : g_fds) {
    if (fd >= 0 && static_cast<unsigned>(fd) >= first && static_cast<unsigned>(fd) <= last) {
      return true;
    }
  }
  return false;
}

void host_closing(int first, int last, int (*real_close)(int)) {
  int* array = libunwind_array.load(std::memory_order_acquire);
  int fds[2] = {g_fds[0], g_fds[1]};
  g_fds[0] = g_fds[1] = -1;
  if (array != nullptr) {
    // libunwind's next validation reads -1, fails, and opens a fresh pipe.
    __atomic_store_n(&array[0], -1, __ATOMIC_RELEASE);
    __atomic_store_n(&array[1], -1, __ATOMIC_RELEASE);
  }
  for (int fd : fds) {
    bool host_closes_it = fd >= first && fd <= last;
    if (fd >= 0 && !host_closes_it && real_close != nullptr) real_close(fd);
  }
}

}  // namespace loopsan::unwinder_pipe
