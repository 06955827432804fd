#include "agent/runtimes/cxx_exceptions.h"

#include <cxxabi.h>

#include <atomic>
#include <cstdlib>
#include <exception>
#include <future>
#include <typeinfo>
#include <unordered_map>

#include "agent/base/lock.h"
#include "agent/stacks/depot.h"
#include "agent/base/thread_state.h"

namespace loopsan::cxx_exceptions {
namespace {

// Throw stacks are cut at this depth: deeper frames rarely tell where a failure came from,
// and the capture cost grows with depth on throw-heavy code.
constexpr int kThrowDepth = 32;
constexpr int kRingSize = 16;

// A throw's stack stays raw here: most thrown exceptions are caught and forgotten, and only
// one that is pinned or described is worth interning in the depot.
struct RingSlot {
  void* obj;
  const void* type;
  pid_t tid;
  int depth;
  uintptr_t ips[kThrowDepth];

  StackId intern() const { return depot::intern(ips, depth); }
};

struct Ring {
  RingSlot slots[kRingSize];
  unsigned next;
};

// The ring lives behind a POD TLS pointer (no thread_local object with a destructor).
__thread Ring* ring __attribute__((tls_model("initial-exec")));

RingSlot* find_in_ring(void* obj) {
  Ring* r = ring;
  if (r == nullptr) return nullptr;
  for (RingSlot& s : r->slots) {
    if (s.obj == obj) return &s;
  }
  return nullptr;
}

struct Pinned {
  const void* type = nullptr;
  bool retrieved = false;
  pid_t tid = 0;
  StackId stack = 0;
};

constexpr int kShards = 16;
struct Shard {
  Lock lock;
  std::unordered_map<void*, Pinned*>* map = nullptr;
};
Shard shards[kShards];
std::atomic<long> pinned_count{0};

Shard& shard_of(void* obj) {
  return shards[(reinterpret_cast<uintptr_t>(obj) >> 4) % kShards];
}

std::unordered_map<void*, Pinned*>& map_of(Shard& s) {
  if (s.map == nullptr) s.map = new std::unordered_map<void*, Pinned*>();
  return *s.map;
}

// Pins `obj`, copying its ring record if there is one. Returns the pinned record.
Pinned* pin(void* obj, const RingSlot* from) {
  Shard& s = shard_of(obj);
  LockGuard g(s.lock);
  auto& map = map_of(s);
  auto [it, inserted] = map.try_emplace(obj, nullptr);
  if (!inserted) return it->second;
  auto* p = new Pinned();
  if (from != nullptr) {
    p->type = from->type;
    p->tid = from->tid;
    p->stack = from->intern();
  }
  it->second = p;
  pinned_count.fetch_add(1, std::memory_order_relaxed);
  return p;
}

}  // namespace

void on_throw(void* obj, const void* type_info) {
  if (ring == nullptr) ring = static_cast<Ring*>(calloc(1, sizeof(Ring)));
  if (ring == nullptr) return;
  // A stale slot for the same address (its free was missed) must not shadow this throw.
  if (RingSlot* stale = find_in_ring(obj)) stale->obj = nullptr;
  RingSlot& slot = ring->slots[ring->next++ % kRingSize];
  slot.obj = obj;
  slot.type = type_info;
  slot.tid = current_tid();
  slot.depth = capture_frames(slot.ips, kThrowDepth);
}

void on_make(void* obj, const void* type_info) {
  // std::make_exception_ptr: the exception goes straight into an exception_ptr.
  RingSlot tmp{};
  tmp.obj = obj;
  tmp.type = type_info;
  tmp.tid = current_tid();
  tmp.depth = capture_frames(tmp.ips, kThrowDepth);
  pin(obj, &tmp);
}

void on_capture(void* obj) {
  if (pinned_count.load(std::memory_order_relaxed) > 0) {
    Shard& s = shard_of(obj);
    LockGuard g(s.lock);
    if (map_of(s).count(obj) != 0) return;
  }
  pin(obj, find_in_ring(obj));
}

void on_rethrow(void* obj) {
  Pinned* p = pin(obj, find_in_ring(obj));
  Shard& s = shard_of(obj);
  LockGuard g(s.lock);
  p->retrieved = true;
}

void on_free(void* obj) {
  if (RingSlot* slot = find_in_ring(obj)) slot->obj = nullptr;
  if (pinned_count.load(std::memory_order_relaxed) == 0) return;
  Shard& s = shard_of(obj);
  Pinned* gone = nullptr;
  {
    LockGuard g(s.lock);
    auto& map = map_of(s);
    auto it = map.find(obj);
    if (it == map.end()) return;
    gone = it->second;
    map.erase(it);
  }
  pinned_count.fetch_sub(1, std::memory_order_relaxed);
  delete gone;
}

bool retrieved(void* obj) {
  if (pinned_count.load(std::memory_order_relaxed) == 0) return false;
  Shard& s = shard_of(obj);
  LockGuard g(s.lock);
  auto& map = map_of(s);
  auto it = map.find(obj);
  return it != map.end() && it->second->retrieved;
}

Info describe(void* obj, const void* type_info) {
  Info info;
  const void* recorded_type = nullptr;
  {
    Shard& s = shard_of(obj);
    LockGuard g(s.lock);
    auto& map = map_of(s);
    auto it = map.find(obj);
    if (it != map.end()) {
      const Pinned* p = it->second;
      info.retrieved = p->retrieved;
      recorded_type = p->type;
      info.throw_tid = p->tid;
      info.throw_stack = p->stack;
    }
  }
  if (info.throw_stack == 0) {
    if (const RingSlot* slot = find_in_ring(obj)) {
      recorded_type = slot->type;
      info.throw_tid = slot->tid;
      info.throw_stack = slot->intern();
    }
  }
  const void* type = type_info != nullptr ? type_info : recorded_type;
  info.type = type != nullptr ? type_name(type) : "unknown";
  info.what = type != nullptr ? what_of(obj, type) : "";
  return info;
}

void* current_exception_object(const void** type_info) {
  // The primary exception object being handled, as exception_ptr holds it.
  std::exception_ptr current = std::current_exception();
  if (!current) return nullptr;
  void* obj = *reinterpret_cast<void**>(&current);
  *type_info = current.__cxa_exception_type();
  return obj;
}

std::string type_name(const void* type_info) {
  const char* mangled = static_cast<const std::type_info*>(type_info)->name();
  if (mangled == nullptr) return "unknown";
  if (*mangled == '*') ++mangled;  // local types
  int status = 0;
  char* out = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string name = status == 0 && out != nullptr ? out : mangled;
  free(out);
  return name;
}

std::string what_of(void* obj, const void* type_info) {
  // The same conversion a `catch (const std::exception&)` would do, without throwing.
  void* adjusted = obj;
  const auto* thrown = static_cast<const std::type_info*>(type_info);
  if (!typeid(std::exception).__do_catch(thrown, &adjusted, 1)) return {};
  const char* what = static_cast<const std::exception*>(adjusted)->what();
  return what != nullptr ? std::string(what) : std::string();
}

bool is_broken_promise(void* obj, const void* type_info) {
  void* adjusted = obj;
  const auto* thrown = static_cast<const std::type_info*>(type_info);
  if (!typeid(std::future_error).__do_catch(thrown, &adjusted, 1)) return false;
  return static_cast<const std::future_error*>(adjusted)->code() ==
         std::make_error_code(std::future_errc::broken_promise);
}

void thread_exiting() {
  free(ring);
  ring = nullptr;
}

void reset_after_fork() {
  // A shard held at the fork was being changed: leak its map rather than read it. Its pinned
  // exceptions are forgotten (pinned_count only says whether any map may hold one).
  for (Shard& s : shards) {
    if (s.lock.reset_after_fork()) s.map = nullptr;
  }
}

}  // namespace loopsan::cxx_exceptions
