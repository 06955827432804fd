#include "agent/base/errno_saver.h"
#include "agent/detectors/future_tracker.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <future>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "agent/runtimes/cxx_exceptions.h"
#include "agent/base/lock.h"
#include "agent/detectors/exception_finding.h"
#include "agent/runtimes/python_bridge.h"
#include "agent/base/text.h"
#include "agent/base/thread_state.h"

namespace loopsan::future_tracker {
namespace {

// Where _Result_base keeps its exception_ptr (after the vtable pointer).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
constexpr size_t kErrorOffset = offsetof(std::__future_base::_Result_base, _M_error);
#pragma GCC diagnostic pop

void* stored_exception(void* result) {
  return *reinterpret_cast<void**>(static_cast<char*>(result) + kErrorOffset);
}
const void* stored_exception_type(void* result) {
  auto* ptr = reinterpret_cast<std::exception_ptr*>(static_cast<char*>(result) + kErrorOffset);
  return ptr->__cxa_exception_type();
}

// --- The set of live results --------------------------------------------------------------
// Lock-free open addressing: one CAS to insert, one to erase, on a path every promise/future
// pair takes. Slots hold the result's address, 0 (never used) or kTombstone. Erased slots are
// reused by later inserts; a probe never needs to go past a never-used slot.
constexpr size_t kSlots = 1 << 16;
constexpr int kMaxProbe = 64;
constexpr uintptr_t kTombstone = 1;
std::atomic<uintptr_t> slots[kSlots];

// Beyond kMaxProbe collisions (tens of thousands of live futures): a locked overflow set.
Lock overflow_lock;
std::unordered_set<uintptr_t>* overflow = nullptr;
std::atomic<long> overflow_size{0};

size_t slot_of(uintptr_t key) {
  return ((key >> 4) * 0x9E3779B97F4A7C15ull) >> 48;
}

void insert(uintptr_t key) {
  size_t h = slot_of(key);
  for (int i = 0; i < kMaxProbe; ++i) {
    auto& slot = slots[(h + static_cast<size_t>(i)) & (kSlots - 1)];
    uintptr_t cur = slot.load(std::memory_order_relaxed);
    if (cur <= kTombstone && slot.compare_exchange_strong(cur, key, std::memory_order_acq_rel)) {
      return;
    }
  }
  LockGuard g(overflow_lock);
  if (overflow == nullptr) overflow = new std::unordered_set<uintptr_t>();
  overflow->insert(key);
  overflow_size.fetch_add(1, std::memory_order_relaxed);
}

// Nothing to do if `key` was not tracked (created before loopsan started).
void erase(uintptr_t key) {
  size_t h = slot_of(key);
  for (int i = 0; i < kMaxProbe; ++i) {
    auto& slot = slots[(h + static_cast<size_t>(i)) & (kSlots - 1)];
    uintptr_t cur = slot.load(std::memory_order_relaxed);
    if (cur == key) {
      slot.store(kTombstone, std::memory_order_release);
      return;
    }
    if (cur == 0) break;
  }
  if (overflow_size.load(std::memory_order_relaxed) == 0) return;
  LockGuard g(overflow_lock);
  if (overflow->erase(key) != 0) overflow_size.fetch_sub(1, std::memory_order_relaxed);
}

// --- Reporting ----------------------------------------------------------------------------

void report(const cxx_exceptions::Info& info, bool at_exit, const char* origin) {
  ExceptionFinding f(Kind::kUnretrievedException, info.type, info.what);
  f.message(at_exit ? cat(" stored in ", origin,
                          " was never retrieved; the future was still alive at exit")
                    : cat(" stored in ", origin,
                          " was never retrieved: the future was destroyed without get()"));
  if (info.throw_tid != 0) f.field("throw_tid", cat(info.throw_tid));
  f.field("at_exit", at_exit ? "true" : "false");
  f.thrown_at(info.throw_stack);
  f.dropped_at(at_exit ? StackId{0} : capture_stack());
  f.python_stack(python::capture_stack());
  f.submit();
}

void check_result(void* result, bool at_exit) {
  void* obj = stored_exception(result);
  if (obj == nullptr || cxx_exceptions::retrieved(obj)) return;
  const void* type = stored_exception_type(result);
  if (type != nullptr && cxx_exceptions::is_broken_promise(obj, type)) return;
  report(cxx_exceptions::describe(obj, type), at_exit, "a std::future");
}

// --- Custom futures (C API) -----------------------------------------------------------------

struct Custom {
  bool failed = false;
  bool retrieved = false;
  std::string type;
  std::string what;
  StackId throw_stack = 0;
  pid_t throw_tid = 0;
};
Lock custom_lock;
std::unordered_map<const void*, Custom>* customs = nullptr;

std::unordered_map<const void*, Custom>& custom_table() {
  if (customs == nullptr) customs = new std::unordered_map<const void*, Custom>();
  return *customs;
}

void report_custom(const Custom& c, bool at_exit) {
  cxx_exceptions::Info info;
  info.type = c.type;
  info.what = c.what;
  info.throw_stack = c.throw_stack;
  info.throw_tid = c.throw_tid;
  report(info, at_exit, "a custom future");
}

}  // namespace

void result_created(void* self) {
  insert(reinterpret_cast<uintptr_t>(self));
}

void result_destroying(void* self) {
  // Checked whether or not it was tracked: a result made before loopsan started counts too.
  erase(reinterpret_cast<uintptr_t>(self));
  if (stored_exception(self) == nullptr) return;  // a value (or nothing): the common case
  if (tls_state.guard != 0) return;
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  check_result(self, /*at_exit=*/false);
}

void custom_created(const void* id) {
  LockGuard g(custom_lock);
  custom_table()[id] = Custom{};
}

void custom_failed(const void* id, const char* type, const char* what) {
  Custom c;
  c.failed = true;
  c.type = type != nullptr ? type : "unknown";
  c.what = what != nullptr ? what : "";
  // Called from a catch block, the exception in flight knows where it was thrown.
  const void* in_flight_type = nullptr;
  void* in_flight = cxx_exceptions::current_exception_object(&in_flight_type);
  if (in_flight != nullptr) {
    cxx_exceptions::Info info = cxx_exceptions::describe(in_flight, in_flight_type);
    c.throw_stack = info.throw_stack;
    c.throw_tid = info.throw_tid;
  }
  if (c.throw_stack == 0) {
    c.throw_stack = capture_stack();
    c.throw_tid = current_tid();
  }
  LockGuard g(custom_lock);
  custom_table()[id] = std::move(c);
}

void custom_retrieved(const void* id) {
  LockGuard g(custom_lock);
  auto it = custom_table().find(id);
  if (it != custom_table().end()) it->second.retrieved = true;
}

void custom_destroyed(const void* id) {
  Custom c;
  {
    LockGuard g(custom_lock);
    auto it = custom_table().find(id);
    if (it == custom_table().end()) return;
    c = std::move(it->second);
    custom_table().erase(it);
  }
  if (c.failed && !c.retrieved) report_custom(c, /*at_exit=*/false);
}

void check_at_exit() {
  for (auto& slot : slots) {
    uintptr_t key = slot.load(std::memory_order_acquire);
    if (key > kTombstone) check_result(reinterpret_cast<void*>(key), /*at_exit=*/true);
  }
  if (overflow_size.load() > 0) {
    std::unordered_set<uintptr_t> copy;
    {
      LockGuard g(overflow_lock);
      copy = *overflow;
    }
    for (uintptr_t key : copy) check_result(reinterpret_cast<void*>(key), /*at_exit=*/true);
  }
  std::vector<Custom> pending;
  {
    LockGuard g(custom_lock);
    for (auto& [id, c] : custom_table()) {
      if (c.failed && !c.retrieved) pending.push_back(c);
    }
  }
  for (const Custom& c : pending) report_custom(c, /*at_exit=*/true);
}

void reset_after_fork() {
  // A table whose lock was held at the fork was being changed: leak it, do not read it.
  if (overflow_lock.reset_after_fork()) {
    overflow = nullptr;
    overflow_size.store(0, std::memory_order_relaxed);
  }
  if (custom_lock.reset_after_fork()) customs = nullptr;
}

}  // namespace loopsan::future_tracker
