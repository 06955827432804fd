// Whether a descriptor is non-blocking, and whether it is a socket: the question every I/O
// wrapper asks on a loop thread (never elsewhere). The answer is cached per descriptor number
// and stays correct across reuse: closing a number (close family, dup2/dup3 onto it) forgets
// it, and changing O_NONBLOCK anywhere (fcntl F_SETFL, ioctl FIONBIO) forgets every answer,
// because the flag belongs to the open file description, which dup'ed numbers share.
#pragma once

#include <atomic>
#include <cstdint>

namespace loopsan::fd_status {

enum class Blocking : uint8_t { kUnknown, kNonBlocking, kBlockingSocket, kBlockingOther };

constexpr int kCached = 1 << 16;

// Entry layout: bit 0 valid, bits 1-2 the answer, bits 3-15 a per-number sequence bumped by
// every forget (so that an answer read before a close cannot be stored after it), bits 16-31
// the low bits of the flags epoch it was read in.
extern std::atomic<uint32_t> entries[kCached];
extern std::atomic<uint32_t> flags_epoch;

inline Blocking cached(int fd) {
  if (fd < 0 || fd >= kCached) return Blocking::kUnknown;
  uint32_t e = entries[fd].load(std::memory_order_acquire);
  if ((e & 1) == 0 || (e >> 16) != (flags_epoch.load(std::memory_order_relaxed) & 0xffff)) {
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
  uint32_t e = entries[fd].load(std::memory_order_relaxed);
  uint32_t next;
  do {
    next = (e + (1u << 3)) & 0xfff8u;  // next sequence, not valid
  } while (!entries[fd].compare_exchange_weak(e, next, std::memory_order_acq_rel));
}
void forget_range(unsigned first, unsigned last);

// O_NONBLOCK changed on some open file description.
inline void flags_changed() {
  flags_epoch.fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace loopsan::fd_status
