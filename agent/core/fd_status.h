// Whether a descriptor is non-blocking, and whether it is a socket: the question every I/O
// wrapper asks on a loop thread (never elsewhere). The answer is cached per descriptor number
// and stays correct across reuse: closing a number (close family, dup2/dup3 onto it, fclose)
// forgets it, before and after the real close. Changing O_NONBLOCK (fcntl F_SETFL, ioctl
// FIONBIO) forgets that number's answer, or every answer when the number was ever duplicated
// in this process, because the flag belongs to the open file description that dup'ed numbers
// share. (Another process changing a description it shares with us is not seen: documented.)
#pragma once

#include <atomic>
#include <cstdint>

namespace loopsan::fd_status {

enum class Blocking : uint8_t { kUnknown, kNonBlocking, kBlockingSocket, kBlockingOther };

constexpr int kCached = 1 << 16;

// Entry layout: bit 0 valid, bits 1-2 the answer, bits 3-31 a per-number sequence bumped by
// every forget (so that an answer read before a close cannot be stored after it), bits 32-63
// the flags epoch it was read in.
extern std::atomic<uint64_t> entries[kCached];
extern std::atomic<uint32_t> flags_epoch;
// Numbers that were duplicated (dup, dup2, dup3, F_DUPFD) since they were last closed.
extern std::atomic<uint8_t> duplicated[kCached];

inline Blocking cached(int fd) {
  if (fd < 0 || fd >= kCached) return Blocking::kUnknown;
  uint64_t e = entries[fd].load(std::memory_order_acquire);
  if ((e & 1) == 0 || (e >> 32) != flags_epoch.load(std::memory_order_relaxed)) {
    return Blocking::kUnknown;
  }
  return static_cast<Blocking>((e >> 1) & 3);
}

// Asks the kernel (fcntl + fstat) and caches the answer. Changes errno; callers keep it.
Blocking query(int fd);

inline Blocking of(int fd) {
  Blocking b = cached(fd);
  return b != Blocking::kUnknown ? b : query(fd);
}

// The number is closed or about to be replaced.
inline void forget(int fd) {
  if (fd < 0 || fd >= kCached) return;
  uint64_t e = entries[fd].load(std::memory_order_relaxed);
  uint64_t next;
  do {
    next = (e + (1u << 3)) & 0xfffffff8ull;  // next sequence, not valid, no epoch
  } while (!entries[fd].compare_exchange_weak(e, next, std::memory_order_acq_rel));
  duplicated[fd].store(0, std::memory_order_relaxed);
}
void forget_range(unsigned first, unsigned last);

// `fd` and `copy` now share an open file description.
inline void duplicated_to(int fd, int copy) {
  if (fd >= 0 && fd < kCached) duplicated[fd].store(1, std::memory_order_relaxed);
  if (copy >= 0 && copy < kCached) duplicated[copy].store(1, std::memory_order_relaxed);
}

// O_NONBLOCK may have changed on `fd`'s open file description.
inline void flags_changed(int fd) {
  if (fd >= 0 && fd < kCached && duplicated[fd].load(std::memory_order_relaxed) == 0) {
    forget(fd);
  } else {
    flags_epoch.fetch_add(1, std::memory_order_acq_rel);
  }
}

}  // namespace loopsan::fd_status
