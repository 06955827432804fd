// A library that does what many do in their constructor: registers fork handlers (which glibc
// then runs before loopsan's, whose constructor comes later). The prepare handler takes the
// library's mutex; the child handler names the thread (a call loopsan wraps).
#include <pthread.h>

pthread_mutex_t g_library_mutex = PTHREAD_MUTEX_INITIALIZER;

namespace {

void prepare() {
  pthread_mutex_lock(&g_library_mutex);
}
void parent() {
  pthread_mutex_unlock(&g_library_mutex);
}
void child() {
  pthread_mutex_unlock(&g_library_mutex);
  pthread_setname_np(pthread_self(), "forked-child");
}

__attribute__((constructor)) void register_fork_handlers() {
  pthread_atfork(prepare, parent, child);
}

}  // namespace
