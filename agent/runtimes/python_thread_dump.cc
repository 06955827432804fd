#include "agent/runtimes/python_thread_dump.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>

#include <atomic>
#include <cstdint>

#include "agent/base/sys.h"
#include "agent/core/helper_thread.h"
#include "agent/runtimes/cpython_api.h"
#include "agent/runtimes/python_bridge.h"

namespace loopsan::python_thread_dump {
namespace {

// One request at a time: the watchdog bumps `requested`, the helper answers by storing the
// same number in `answered` once `result` is written. While they differ the helper owns
// `result`; a request that timed out leaves them different until the GIL finally comes, and
// every request meanwhile fails at once instead of queueing behind it.
std::atomic<uint32_t> requested{0};
std::atomic<uint32_t> answered{0};
std::string* result = new std::string();  // leaked in a fork() child: the helper may own it

// 0: not started, 1: running, -1: could not be started.
std::atomic<int> state{0};
std::atomic<unsigned long> helper_id{0};

void futex_wait(std::atomic<uint32_t>* word, uint32_t seen, int timeout_ms) {
  timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
  sys::call_with(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, timeout_ms >= 0 ? &ts : nullptr);
}

void futex_wake(std::atomic<uint32_t>* word) {
  sys::call_with(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1);
}

void answer_one(uint32_t seq) {
  const cpython::Api& a = cpython::api;
  std::string text;
  if (a.is_initialized() && !a.is_finalizing()) {
    // While it waits for the GIL, a finalizing interpreter ends this thread (pthread_exit from
    // take_gil): the request then stays unanswered and later ones fail at once, as they should.
    int gil = a.gil_ensure();
    int fd = python::open_dump_file();
    if (fd >= 0) a.dump_traceback_threads(fd, nullptr, nullptr);
    a.gil_release(gil);
    text = python::read_dump_file(fd);
  }
  result->swap(text);
  answered.store(seq, std::memory_order_release);
  futex_wake(&answered);
}

void* run(void*) {
  helper_id.store(static_cast<unsigned long>(pthread_self()), std::memory_order_release);
  for (;;) {
    uint32_t seq = requested.load(std::memory_order_acquire);
    if (seq == answered.load(std::memory_order_acquire)) {
      futex_wait(&requested, seq, -1);
      continue;
    }
    answer_one(seq);
  }
  return nullptr;
}

bool start() {
  bool ok = helper_thread::start(run, "loopsan-pystack");
  state.store(ok ? 1 : -1, std::memory_order_release);
  return ok;
}

}  // namespace

bool all_threads(std::string* text, int timeout_ms) {
  text->clear();
  if (!cpython::available(cpython::kStacks | cpython::kThreadStacks)) return false;
  const cpython::Api& a = cpython::api;
  if (!a.is_initialized() || a.is_finalizing()) return false;
  uint32_t seq = requested.load(std::memory_order_relaxed);
  if (seq != answered.load(std::memory_order_acquire)) return false;  // still waiting for the GIL
  int s = state.load(std::memory_order_acquire);
  if (s < 0 || (s == 0 && !start())) return false;
  ++seq;
  requested.store(seq, std::memory_order_release);
  futex_wake(&requested);
  int64_t deadline = sys::monotonic_ns() + int64_t{timeout_ms} * 1000000;
  for (;;) {
    uint32_t got = answered.load(std::memory_order_acquire);
    if (got == seq) break;
    int64_t left_ns = deadline - sys::monotonic_ns();
    if (left_ns <= 0) return false;
    futex_wait(&answered, got, static_cast<int>(left_ns / 1000000) + 1);
  }
  text->swap(*result);
  return !text->empty();
}

unsigned long helper_thread_id() {
  return helper_id.load(std::memory_order_acquire);
}

void reset_after_fork() {
  result = new std::string();
  requested.store(0, std::memory_order_relaxed);
  answered.store(0, std::memory_order_relaxed);
  state.store(0, std::memory_order_relaxed);
  helper_id.store(0, std::memory_order_relaxed);
}

}  // namespace loopsan::python_thread_dump
