/* Plain C, built against the installed header only. */
#include <loopsan/loopsan.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
  loopsan_loop_enter("consumer");
  usleep(10000); /* a blocking call on a marked loop: a finding under loopsan */
  loopsan_loop_exit();
  printf("active=%d findings=%llu\n", loopsan_active(), loopsan_findings_count());
  return 0;
}
