// A library whose constructor runs before loopsan's (its objects initialize first): it
// creates a thread, sleeps, closes a bad descriptor and throws, through wrappers whose
// agent is not started yet.
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <stdexcept>

#include "loopsan/loopsan.h"

int early_active = -1;
int early_thread_result = 0;
int early_close_errno = 0;
int early_sleep_result = -1;
int early_caught = 0;

namespace {

void* thread_body(void*) {
  return reinterpret_cast<void*>(42);
}

__attribute__((constructor)) void early_init() {
  early_active = loopsan_active();
  pthread_t t;
  void* ret = nullptr;
  if (pthread_create(&t, nullptr, thread_body, nullptr) == 0 && pthread_join(t, &ret) == 0) {
    early_thread_result = static_cast<int>(reinterpret_cast<long>(ret));
  }
  errno = 0;
  close(-1);
  early_close_errno = errno;
  timespec ms{0, 1000000};
  early_sleep_result = nanosleep(&ms, nullptr);
  try {
    throw std::runtime_error("early");
  } catch (const std::exception&) {
    early_caught = 1;
  }
}

}  // namespace
