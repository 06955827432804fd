// Runs with early_lib, whose constructor used wrapped functions before loopsan started.
#include <errno.h>

#include <cstdio>

#include "loopsan/loopsan.h"

extern int early_active, early_thread_result, early_close_errno, early_sleep_result, early_caught;

int main() {
  printf("early: active=%d thread=%d close_errno=%s sleep=%d caught=%d\n", early_active,
         early_thread_result, early_close_errno == EBADF ? "EBADF" : "other", early_sleep_result,
         early_caught);
  printf("main: active=%d\n", loopsan_active());
  return 0;
}
