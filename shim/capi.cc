// The exported C API (include/loopsan/loopsan.h): each function is an event or a question.
#define LOOPSAN_SHIM_BUILD 1
#include "loopsan/loopsan.h"

#include "shim/shim.h"

extern "C" {

int loopsan_active(void) {
  return events::active() ? 1 : 0;
}

void loopsan_loop_enter(const char* name) {
  events::loop_enter(name);
}

void loopsan_loop_exit(void) {
  events::loop_exit();
}

void loopsan_allow_blocking_begin(const char* reason) {
  events::allow_blocking_begin(reason);
}

void loopsan_allow_blocking_end(void) {
  events::allow_blocking_end();
}

void loopsan_future_created(const void* future) {
  events::custom_future_created(future);
}

void loopsan_future_failed(const void* future, const char* type, const char* what) {
  events::custom_future_failed(future, type, what);
}

void loopsan_future_retrieved(const void* future) {
  events::custom_future_retrieved(future);
}

void loopsan_future_destroyed(const void* future) {
  events::custom_future_destroyed(future);
}

unsigned long long loopsan_findings_count(void) {
  return events::findings_count();
}

void loopsan_pool_created(const void* pool, const char* name, int max_workers) {
  events::pool_created(pool, name, max_workers);
}

void loopsan_pool_destroyed(const void* pool) {
  events::pool_destroyed(pool);
}

void loopsan_task_queued(const void* pool, const void* task) {
  events::pool_task_queued(pool, task);
}

void loopsan_task_dropped(const void* pool, const void* task) {
  events::pool_task_dropped(pool, task);
}

void loopsan_task_started(const void* pool, const void* task) {
  events::pool_task_started(pool, task);
}

void loopsan_task_finished(const void* pool, const void* task) {
  events::pool_task_finished(pool, task);
}

void loopsan_flush(void) {
  events::flush_report();
}

void loopsan_test_begin(const char* name) {
  events::test_begin(name);
}

unsigned long long loopsan_test_end(void) {
  return events::test_end();
}

size_t loopsan_test_report(char* buf, size_t size) {
  return events::test_report(buf, size);
}

size_t loopsan_test_kinds(char* buf, size_t size) {
  return events::test_kinds(buf, size);
}

}  // extern "C"
