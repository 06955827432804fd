#include "agent/core/fd_status.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "agent/interception/interception.h"

namespace loopsan::fd_status {

std::atomic<uint64_t> entries[kCached];
std::atomic<uint32_t> flags_epoch{0};
std::atomic<uint8_t> duplicated[kCached];

Blocking query(int fd) {
  uint64_t before = fd >= 0 && fd < kCached ? entries[fd].load(std::memory_order_acquire) : 0;
  uint64_t epoch = flags_epoch.load(std::memory_order_acquire);
  auto real_fcntl = REAL(fcntl);
  int flags = real_fcntl != nullptr ? real_fcntl(fd, F_GETFL) : -1;
  if (flags < 0) return Blocking::kUnknown;  // not open: the real call will say so
  Blocking answer = Blocking::kNonBlocking;
  if ((flags & O_NONBLOCK) == 0) {
    struct stat st {};
    bool socket = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
    answer = socket ? Blocking::kBlockingSocket : Blocking::kBlockingOther;
  }
  if (fd >= 0 && fd < kCached) {
    uint64_t entry =
        (epoch << 32) | (before & 0xfffffff8ull) | (static_cast<uint64_t>(answer) << 1) | 1;
    // Fails if the number was forgotten meanwhile: the answer may describe a closed file.
    entries[fd].compare_exchange_strong(before, entry, std::memory_order_acq_rel);
  }
  return answer;
}

void forget_range(unsigned first, unsigned last) {
  if (first == last) {
    forget(static_cast<int>(first));
  } else {
    // close_range(3, ~0U) before every exec: one epoch step instead of 65536 entries.
    flags_epoch.fetch_add(1, std::memory_order_acq_rel);
  }
}

}  // namespace loopsan::fd_status
