#include <loopsan/loopsan.hpp>
#include <loopsan/testing.hpp>

#include <cstdio>
#include <unistd.h>

int main() {
  loopsan::testing::FindingsDelta delta;
  {
    loopsan::LoopScope loop("consumer");
    loopsan::AllowBlocking allow("accepted");
    usleep(1000);
  }
  std::printf("active=%d delta=%llu\n", loopsan::active() ? 1 : 0, delta.count());
  return 0;
}
