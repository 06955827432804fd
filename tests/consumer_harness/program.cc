// A test program for loopsan_add_test: runs one handler on its loop, the sleeping one when
// given "sleep".
#include <cstring>
#include <cstdio>

#include "loop.h"

int main(int argc, char** argv) {
  bool sleep = argc > 1 && strcmp(argv[1], "sleep") == 0;
  LoopThread::shared().run_on_loop(sleep ? consumer_handler_that_sleeps
                                         : consumer_handler_that_computes);
  printf("handled\n");
  return 0;
}
