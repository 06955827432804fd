// Thread semantics under the shim: what the host sees must not change. Prints one line per
// check and exits non-zero if any fails; run with and without the shim.
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

static int failures = 0;

static void check(bool ok, const char* what) {
  printf("%s %s\n", ok ? "PASS" : "FAIL", what);
  if (!ok) ++failures;
}

static void* returns_value(void*) {
  return reinterpret_cast<void*>(0x1234);
}

static void* exits_with_value(void*) {
  pthread_exit(reinterpret_cast<void*>(0x5678));
  return nullptr;
}

static std::atomic<int> cleanup_ran{0};
static void cleanup(void*) {
  cleanup_ran = 1;
}

static void* waits_to_be_cancelled(void*) {
  pthread_cleanup_push(cleanup, nullptr);
  for (;;) pause();  // a cancellation point
  pthread_cleanup_pop(0);
  return nullptr;
}

static void* reports_mask(void* out) {
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  *static_cast<int*>(out) = sigismember(&mask, SIGUSR2);
  return nullptr;
}

struct Destructed {
  std::atomic<int>* flag;
  ~Destructed() { *flag = 1; }
};

static void* unwinds_on_exit(void* flag) {
  Destructed d{static_cast<std::atomic<int>*>(flag)};
  pthread_exit(nullptr);  // C++ objects on the stack are destroyed by the forced unwind
}

[[gnu::noinline]] static void throws_deep(int depth) {
  if (depth == 0) throw std::runtime_error("deep");
  throws_deep(depth - 1);
}

int main() {
  setvbuf(stdout, nullptr, _IONBF, 0);
  pthread_t t;
  void* ret = nullptr;

  check(pthread_create(&t, nullptr, returns_value, nullptr) == 0 && pthread_join(t, &ret) == 0 &&
            ret == reinterpret_cast<void*>(0x1234),
        "return value of a thread reaches pthread_join");

  check(pthread_create(&t, nullptr, exits_with_value, nullptr) == 0 && pthread_join(t, &ret) == 0 &&
            ret == reinterpret_cast<void*>(0x5678),
        "pthread_exit value reaches pthread_join");

  check(pthread_create(&t, nullptr, waits_to_be_cancelled, nullptr) == 0, "create cancellable");
  usleep(20000);
  check(pthread_cancel(t) == 0 && pthread_join(t, &ret) == 0 && ret == PTHREAD_CANCELED &&
            cleanup_ran == 1,
        "cancellation runs cleanup handlers and joins as PTHREAD_CANCELED");

  std::atomic<int> destroyed{0};
  check(pthread_create(&t, nullptr, unwinds_on_exit, &destroyed) == 0 &&
            pthread_join(t, nullptr) == 0 && destroyed == 1,
        "pthread_exit unwinds C++ objects");

  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  int member = -1;
  check(pthread_create(&t, nullptr, reports_mask, &member) == 0 && pthread_join(t, nullptr) == 0 &&
            member == 1,
        "a new thread inherits its creator's signal mask");
  pthread_sigmask(SIG_SETMASK, &old, nullptr);

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 1 << 20);
  std::atomic<size_t> seen_stack{0};
  auto report_stack = [](void* p) -> void* {
    pthread_attr_t a;
    size_t size = 0;
    pthread_getattr_np(pthread_self(), &a);
    pthread_attr_getstacksize(&a, &size);
    pthread_attr_destroy(&a);
    static_cast<std::atomic<size_t>*>(p)->store(size);
    return nullptr;
  };
  check(pthread_create(&t, &attr, report_stack, &seen_stack) == 0, "create detached thread");
  for (int i = 0; i < 500 && seen_stack == 0; ++i) usleep(1000);
  check(seen_stack == (1u << 20), "attr (stack size) is honoured");
  check(pthread_join(t, nullptr) == EINVAL, "a detached thread cannot be joined");
  pthread_attr_destroy(&attr);

  std::string name_seen;
  std::thread named([&] {
    pthread_setname_np(pthread_self(), "io-worker");
    char buf[16] = {};
    prctl(PR_GET_NAME, buf, 0, 0, 0);
    name_seen = buf;
  });
  named.join();
  check(name_seen == "io-worker", "pthread_setname_np names the thread");

  // Exceptions thrown and caught across frames, on the main thread and a std::thread.
  bool caught = false;
  try {
    throws_deep(20);
  } catch (const std::runtime_error& e) {
    caught = std::string(e.what()) == "deep";
  }
  check(caught, "an exception crosses 20 frames and is caught");
  std::atomic<bool> caught_in_thread{false};
  std::thread thrower([&] {
    try {
      throws_deep(5);
    } catch (const std::exception&) {
      caught_in_thread = true;
    }
  });
  thrower.join();
  check(caught_in_thread, "an exception is caught inside a std::thread");

  // The host's exceptions keep using the host's unwinder (libgcc_s), not libunwind's
  // _Unwind_* compatibility symbols that come with the shim.
  Dl_info info{};
  void* raise = dlsym(RTLD_DEFAULT, "_Unwind_RaiseException");
  check(raise != nullptr && dladdr(raise, &info) != 0 && info.dli_fname != nullptr &&
            strstr(info.dli_fname, "libgcc_s") != nullptr,
        "_Unwind_RaiseException resolves to libgcc_s");

  printf("%s\n", failures == 0 ? "ALL PASS" : "SOME FAILED");
  return failures == 0 ? 0 : 1;
}
