#include "agent/base/sys.h"
#include "agent/base/errno_saver.h"
#include "agent/stacks/depot.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

namespace loopsan::depot {
namespace {

// Address space reserved at the first insert. Reserved PROT_NONE and made writable a chunk
// at a time, so that a host running with strict overcommit is charged only for what is used.
constexpr size_t kReserved = size_t{64} << 20;
constexpr size_t kChunk = size_t{256} << 10;
constexpr size_t kChunks = kReserved / kChunk;
// Nodes are 8-byte aligned; an id is a node's offset in 8-byte units, plus one (0 is "none").
// 64 MiB / 8 fits comfortably in 32 bits, and get() needs no table to find a node.
constexpr size_t kAlign = 8;
constexpr int kBucketBits = 16;
constexpr uint32_t kBucketMask = (1u << kBucketBits) - 1;

struct Node {
  StackId next;  // written before the node is published, never after
  uint32_t hash;
  int32_t size;
  uint32_t unused;
  // Followed by `size` return addresses.
  uintptr_t* ips() { return reinterpret_cast<uintptr_t*>(this + 1); }
};
static_assert(sizeof(Node) % kAlign == 0);

std::atomic<char*> region{nullptr};
std::atomic<bool> reserve_failed{false};
std::atomic<size_t> used{0};  // bytes handed out, from the start of the region
std::atomic<size_t> limit{kReserved};
std::atomic<bool> chunk_ready[kChunks];
std::atomic<StackId> buckets[size_t{1} << kBucketBits];  // newest node of each chain
std::atomic<size_t> stored{0};
std::atomic<size_t> dropped{0};

// Raw syscalls: the depot runs inside wrappers and on throw paths, and must not go through
// anything the shim (or a host's own interposer) might intercept.
void* raw_mmap(size_t len, int prot) {
  long r = sys::call_with(SYS_mmap, nullptr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                          -1, 0);
  return r == -1 ? nullptr : reinterpret_cast<void*>(r);
}

uint32_t hash_of(const uintptr_t* ips, int size) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(size);
  for (int i = 0; i < size; ++i) {
    h ^= ips[i];
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  return static_cast<uint32_t>(h ^ (h >> 29));
}

Node* node_at(char* base, StackId id) {
  return reinterpret_cast<Node*>(base + (static_cast<size_t>(id) - 1) * kAlign);
}

// Walks a chain from `from` down to (not including) `stop`.
StackId find(char* base, StackId from, StackId stop, uint32_t hash, const uintptr_t* ips,
             int size) {
  for (StackId id = from; id != 0 && id != stop;) {
    Node* n = node_at(base, id);
    if (n->hash == hash && n->size == size &&
        memcmp(n->ips(), ips, sizeof(uintptr_t) * static_cast<size_t>(size)) == 0) {
      return id;
    }
    id = n->next;
  }
  return 0;
}

char* base_or_reserve() {
  char* base = region.load(std::memory_order_acquire);
  if (base != nullptr || reserve_failed.load(std::memory_order_relaxed)) return base;
  auto* mine = static_cast<char*>(raw_mmap(kReserved, PROT_NONE));
  if (mine == nullptr) {
    reserve_failed.store(true, std::memory_order_relaxed);
    return nullptr;
  }
  if (!region.compare_exchange_strong(base, mine, std::memory_order_acq_rel)) {
    sys::call_with(SYS_munmap, mine, kReserved);  // another thread reserved first
    return base;
  }
  return mine;
}

// Makes every chunk that [begin, end) touches writable. Several threads may do it for the
// same chunk at once: mprotect is idempotent, and a chunk is marked ready only once it is.
bool commit(char* base, size_t begin, size_t end) {
  for (size_t c = begin / kChunk; c <= (end - 1) / kChunk; ++c) {
    if (chunk_ready[c].load(std::memory_order_acquire)) continue;
    if (sys::call_with(SYS_mprotect, base + c * kChunk, kChunk, PROT_READ | PROT_WRITE) != 0) {
      return false;
    }
    chunk_ready[c].store(true, std::memory_order_release);
  }
  return true;
}

// Returns the offset of `bytes` fresh bytes, or SIZE_MAX when the depot is full.
size_t allocate(char* base, size_t bytes) {
  size_t begin = used.load(std::memory_order_relaxed);
  size_t cap = limit.load(std::memory_order_relaxed);
  // Acquire: the bytes may have been given back by release() after another thread wrote them.
  do {
    if (begin > cap || bytes > cap - begin) return SIZE_MAX;
  } while (!used.compare_exchange_weak(begin, begin + bytes, std::memory_order_acquire,
                                       std::memory_order_relaxed));
  if (!commit(base, begin, begin + bytes)) return SIZE_MAX;  // the bytes stay unused
  return begin;
}

// Gives back the last allocation if nothing was allocated after it (lost insert race).
void release(size_t offset, size_t bytes) {
  size_t expected = offset + bytes;
  used.compare_exchange_strong(expected, offset, std::memory_order_release,
                               std::memory_order_relaxed);
}

}  // namespace

StackId intern(const uintptr_t* ips, int size) {
  if (ips == nullptr || size <= 0) return 0;
  uint32_t hash = hash_of(ips, size);
  std::atomic<StackId>& bucket = buckets[hash & kBucketMask];
  StackId head = bucket.load(std::memory_order_acquire);
  // A non-empty bucket implies the region exists (it was published before the node).
  char* base = region.load(std::memory_order_acquire);
  if (StackId hit = find(base, head, 0, hash, ips, size)) return hit;

  size_t bytes = sizeof(Node) + sizeof(uintptr_t) * static_cast<size_t>(size);
  size_t offset;
  {
    ErrnoSaver errno_saver;  // mmap/mprotect failures must not leak into the host's errno
    base = base_or_reserve();
    offset = base != nullptr ? allocate(base, bytes) : SIZE_MAX;
  }
  if (offset == SIZE_MAX) {
    dropped.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  auto* node = reinterpret_cast<Node*>(base + offset);
  node->hash = hash;
  node->size = size;
  memcpy(node->ips(), ips, sizeof(uintptr_t) * static_cast<size_t>(size));
  auto id = static_cast<StackId>(offset / kAlign + 1);
  for (;;) {
    node->next = head;
    if (bucket.compare_exchange_weak(head, id, std::memory_order_release,
                                     std::memory_order_acquire)) {
      stored.fetch_add(1, std::memory_order_relaxed);
      return id;
    }
    // Someone published first: only the nodes added since we looked can hold our stack.
    if (StackId hit = find(base, head, node->next, hash, ips, size)) {
      release(offset, bytes);
      return hit;
    }
  }
}

StackView get(StackId id) {
  if (id == 0) return {};
  char* base = region.load(std::memory_order_acquire);
  if (base == nullptr || static_cast<size_t>(id - 1) * kAlign >= kReserved) return {};
  Node* n = node_at(base, id);
  return StackView{n->ips(), n->size};
}

Stats stats() {
  Stats s;
  s.stacks = stored.load(std::memory_order_relaxed);
  s.bytes = used.load(std::memory_order_relaxed);
  s.dropped = dropped.load(std::memory_order_relaxed);
  s.capacity = limit.load(std::memory_order_relaxed);
  return s;
}

void set_capacity_for_testing(size_t bytes) {
  limit.store(bytes == 0 ? kReserved : std::min(bytes, kReserved));
}

}  // namespace loopsan::depot
