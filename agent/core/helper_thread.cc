#include "agent/core/helper_thread.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cstdlib>

#include "agent/base/sys.h"
#include "agent/base/thread_state.h"
#include "agent/interception/interception.h"

namespace loopsan::helper_thread {
namespace {

struct Start {
  void* (*run)(void*);
  const char* name;
};

// glibc's count of running threads (GLIBC_PRIVATE, 2.34 and later; its libpthread before).
// Null where it is not exported: helpers then count, as any thread does.
unsigned int* thread_count() {
  static unsigned int* count = static_cast<unsigned int*>(dlsym(RTLD_DEFAULT, "__nptl_nthreads"));
  return count;
}

// Uncounts the helper while it lives. Should it end after all (CPython ends a thread that waits
// for the GIL while the interpreter finalizes, by pthread_exit, which unwinds through here),
// it counts itself again first, for glibc's own decrement as the thread ends.
struct Uncounted {
  Uncounted() {
    // Zero: the host's last thread called pthread_exit between this thread's creation and now,
    // and glibc, still counting this one, did not end the process. End it as glibc would have.
    unsigned int* c = thread_count();
    if (c != nullptr && __atomic_sub_fetch(c, 1, __ATOMIC_ACQ_REL) == 0) exit(0);
  }
  ~Uncounted() {
    if (unsigned int* c = thread_count()) __atomic_fetch_add(c, 1, __ATOMIC_ACQ_REL);
  }
};

void* trampoline(void* raw) {
  Start start = *static_cast<Start*>(raw);
  delete static_cast<Start*>(raw);
  tls_state.guard = 1;
  sys::call_with(SYS_prctl, PR_SET_NAME, start.name, 0, 0, 0);
  Uncounted uncounted;
  return start.run(nullptr);
}

}  // namespace

bool start(void* (*run)(void*), const char* name) {
  thread_count();  // resolved here, not on the new thread
  auto create = REAL(pthread_create);
  if (create == nullptr) return false;
  // The new thread inherits the creator's mask: glibc blocks all signals for the clone only.
  sigset_t all, old;
  sigfillset(&all);
  sys::call_with(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, _NSIG / 8);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  auto* s = new Start{run, name};
  int rc = create(&thread, &attr, trampoline, s);
  if (rc != 0) delete s;
  pthread_attr_destroy(&attr);
  sys::call_with(SYS_rt_sigprocmask, SIG_SETMASK, &old, nullptr, _NSIG / 8);
  return rc == 0;
}

}  // namespace loopsan::helper_thread
