// GLib victim: main-loop callbacks that block (the bugs), and programs that keep their loop
// free.
// Usage: glib_victim MODE
//   sleep         a g_timeout_add callback sleeps 20 ms with g_usleep() (nanosleep)
//   mutex         a g_timeout_add callback takes a GMutex another thread holds for 350 ms
//                 (GLib waits with syscall(SYS_futex))
//   spawn         a g_timeout_add callback runs g_spawn_sync("true") (fork, then waitpid)
//   spawn-output  a g_timeout_add callback runs g_spawn_sync(sh) and reads its output
//                 (a poll() of the output pipes with no timeout, then waitpid)
//   clean-io      no finding: GIO asynchronous streams over a socketpair (GSocketConnection),
//                 g_io_add_watch on a non-blocking pipe, g_spawn_async + g_child_watch_add
//   clean-thread  no finding: the blocking calls in g_task_run_in_thread and in a GThread that
//                 wakes the loop with g_idle_add, and g_resolver_lookup_by_name_async
//   clean-spawn-off-loop
//                 no finding: g_spawn_sync reading the child's output (GLib poll()s the two
//                 pipes, then waitpid()s) before the loop starts, in a GTask and in a GThread
//   clean-poll-before-loop
//                 no finding: a function poll()s two pipes and returns, then the main loop runs
//                 (the loop's poll is its own wait, whatever came before)
//   clean-after   no finding: blocking shutdown code after g_main_loop_run() returned, before
//                 g_main_loop_unref()
// Every mode prints what it did and exits 0.
#include "loops_common.h"

#include <netdb.h>
#include <poll.h>

#include <gio/gio.h>
#include <glib-unix.h>
#include <glib.h>

static GMainLoop* loop;
static GMutex shared_mutex;
static int mutex_held;
static GThread* holder;

// Another thread holds shared_mutex for LV_CONTENDED_MS; returns once it is held.
static gpointer hold_mutex(gpointer arg) {
  (void)arg;
  g_mutex_lock(&shared_mutex);
  __atomic_store_n(&mutex_held, 1, __ATOMIC_RELEASE);
  g_usleep(LV_CONTENDED_MS * 1000);
  g_mutex_unlock(&shared_mutex);
  return NULL;
}

static void start_holder(void) {
  mutex_held = 0;
  holder = g_thread_new("holder", hold_mutex, NULL);
  while (!__atomic_load_n(&mutex_held, __ATOMIC_ACQUIRE)) sched_yield();
}

// --- the bugs: blocking calls in timeout callbacks ------------------------------------------

__attribute__((noinline)) gboolean on_timeout_sleeps(gpointer data) {
  (void)data;
  g_usleep(20 * 1000);
  printf("g_usleep(20 ms) in a timeout callback\n");
  g_main_loop_quit(loop);
  return G_SOURCE_REMOVE;
}

__attribute__((noinline)) gboolean on_timeout_locks_gmutex(gpointer data) {
  (void)data;
  long start = lv_now_ms();
  g_mutex_lock(&shared_mutex);
  long waited = lv_now_ms() - start;
  g_mutex_unlock(&shared_mutex);
  printf("g_mutex_lock() in a timeout callback waited %ld ms\n", waited);
  g_main_loop_quit(loop);
  return G_SOURCE_REMOVE;
}

__attribute__((noinline)) gboolean on_timeout_spawns_sync(gpointer data) {
  (void)data;
  // A child that lives a while: one that already ended is taken without waiting.
  gchar* argv[] = {"sleep", "0.05", NULL};
  gint status = -1;
  GError* error = NULL;
  if (!g_spawn_sync(NULL, argv, NULL,
                    G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                    NULL, NULL, NULL, NULL, &status, &error))
    lv_die(error->message);
  printf("g_spawn_sync(sleep) in a timeout callback: status %d\n", status);
  g_main_loop_quit(loop);
  return G_SOURCE_REMOVE;
}

__attribute__((noinline)) gboolean on_timeout_spawns_for_output(gpointer data) {
  (void)data;
  // The child closes its output, then lives 50 ms more: GLib's poll sees the end of the output
  // and its waitpid then really waits (a child that already ended would be taken at once).
  gchar* argv[] = {"sh", "-c", "echo loopsan; exec >&-; sleep 0.05", NULL};
  gchar* out = NULL;
  gint status = -1;
  GError* error = NULL;
  if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                    &out, NULL, &status, &error))
    lv_die(error->message);
  printf("g_spawn_sync(sh) in a timeout callback: status %d, output %s", status, out);
  g_free(out);
  g_main_loop_quit(loop);
  return G_SOURCE_REMOVE;
}

// One main loop with one timeout that fires at once and runs `callback`.
static void run_timeout_loop(GSourceFunc callback) {
  loop = g_main_loop_new(NULL, FALSE);
  g_timeout_add(0, callback, NULL);
  g_main_loop_run(loop);
  g_main_loop_unref(loop);
}

// --- clean-io ---------------------------------------------------------------------------------

static int exchanges_left = 3;
static char stream_buf[16];

static void exchange_done(void) {
  if (--exchanges_left == 0) g_main_loop_quit(loop);
}

static void on_stream_written(GObject* source, GAsyncResult* result, gpointer data) {
  (void)data;
  GError* error = NULL;
  if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), result, NULL, &error))
    lv_die(error->message);
}

static void on_stream_read(GObject* source, GAsyncResult* result, gpointer data) {
  (void)data;
  GError* error = NULL;
  gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), result, &error);
  if (n < 0) lv_die(error->message);
  printf("GIO async streams over a socketpair: %.*s\n", (int)n, stream_buf);
  exchange_done();
}

static gboolean on_pipe_readable(GIOChannel* channel, GIOCondition condition, gpointer data) {
  (void)condition, (void)data;
  gchar buf[16];
  gsize n = 0;
  GError* error = NULL;
  if (g_io_channel_read_chars(channel, buf, sizeof buf, &n, &error) != G_IO_STATUS_NORMAL)
    lv_die("g_io_channel_read_chars");
  printf("g_io_add_watch on a non-blocking pipe: %.*s\n", (int)n, buf);
  exchange_done();
  return G_SOURCE_REMOVE;
}

static void on_child_exited(GPid pid, gint status, gpointer data) {
  (void)data;
  printf("g_spawn_async(true) + g_child_watch_add: status %d\n", status);
  g_spawn_close_pid(pid);
  exchange_done();
}

static int clean_io(void) {
  loop = g_main_loop_new(NULL, FALSE);
  // GIO streams: GSocket makes its descriptor non-blocking and waits in the main loop.
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) lv_die("socketpair");
  GSocket* sa = g_socket_new_from_fd(sv[0], NULL);
  GSocket* sb = g_socket_new_from_fd(sv[1], NULL);
  if (!sa || !sb) lv_die("g_socket_new_from_fd");
  GSocketConnection* ca = g_socket_connection_factory_create_connection(sa);
  GSocketConnection* cb = g_socket_connection_factory_create_connection(sb);
  g_input_stream_read_async(g_io_stream_get_input_stream(G_IO_STREAM(cb)), stream_buf,
                            sizeof stream_buf, G_PRIORITY_DEFAULT, NULL, on_stream_read, NULL);
  g_output_stream_write_all_async(g_io_stream_get_output_stream(G_IO_STREAM(ca)), "ping", 4,
                                  G_PRIORITY_DEFAULT, NULL, on_stream_written, NULL);
  // A watch on a non-blocking pipe.
  int p[2];
  GError* error = NULL;
  if (!g_unix_open_pipe(p, FD_CLOEXEC, &error)) lv_die(error->message);
  if (!g_unix_set_fd_nonblocking(p[0], TRUE, &error) ||
      !g_unix_set_fd_nonblocking(p[1], TRUE, &error))
    lv_die(error->message);
  GIOChannel* channel = g_io_channel_unix_new(p[0]);
  g_io_channel_set_encoding(channel, NULL, NULL);
  g_io_channel_set_buffered(channel, FALSE);
  g_io_add_watch(channel, G_IO_IN, on_pipe_readable, NULL);
  if (write(p[1], "hello", 5) != 5) lv_die("write");
  // A child process watched by the loop.
  gchar* argv[] = {"true", NULL};
  GPid pid;
  if (!g_spawn_async(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                     &pid, &error))
    lv_die(error->message);
  g_child_watch_add(pid, on_child_exited, NULL);
  g_main_loop_run(loop);
  g_main_loop_unref(loop);
  g_io_channel_unref(channel);
  close(p[0]);
  close(p[1]);
  g_object_unref(ca);
  g_object_unref(cb);
  g_object_unref(sa);
  g_object_unref(sb);
  return 0;
}

// --- clean-thread -----------------------------------------------------------------------------

static int listen_port;

// Everything the buggy modes do on the loop, and more, off the loop.
static void blocking_work(void) {
  struct addrinfo* res = NULL;
  if (getaddrinfo("localhost", "80", NULL, &res) == 0) freeaddrinfo(res);
  g_usleep(50 * 1000);
  int fd = lv_temp_file();
  if (write(fd, "state\n", 6) != 6 || fsync(fd) != 0) lv_die("fsync");
  close(fd);
  int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr = lv_loopback(listen_port);
  if (sock < 0 || connect(sock, (struct sockaddr*)&addr, sizeof addr) != 0) lv_die("connect");
  close(sock);
  pid_t pid = lv_child(30);
  if (waitpid(pid, NULL, 0) != pid) lv_die("waitpid");
}

static void task_blocks(GTask* task, gpointer source, gpointer data, GCancellable* cancellable) {
  (void)source, (void)data, (void)cancellable;
  blocking_work();
  g_mutex_lock(&shared_mutex);  // contended: the holder keeps it for LV_CONTENDED_MS
  g_mutex_unlock(&shared_mutex);
  gchar* argv[] = {"true", NULL};
  g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
  g_task_return_boolean(task, TRUE);
}

static void on_task_done(GObject* source, GAsyncResult* result, gpointer data) {
  (void)source, (void)data;
  if (!g_task_propagate_boolean(G_TASK(result), NULL)) lv_die("task");
  printf(
      "g_task_run_in_thread: getaddrinfo, g_usleep, fsync, connect, waitpid, GMutex, "
      "g_spawn_sync\n");
  exchange_done();
}

static gboolean on_thread_done(gpointer data) {
  (void)data;
  printf("GThread: getaddrinfo, g_usleep, fsync, connect, waitpid, then g_idle_add\n");
  exchange_done();
  return G_SOURCE_REMOVE;
}

static gpointer thread_blocks(gpointer data) {
  (void)data;
  blocking_work();
  g_idle_add(on_thread_done, NULL);  // wakes the loop from this thread
  return NULL;
}

static void on_resolved(GObject* source, GAsyncResult* result, gpointer data) {
  (void)data;
  GError* error = NULL;
  GList* addresses = g_resolver_lookup_by_name_finish(G_RESOLVER(source), result, &error);
  printf("g_resolver_lookup_by_name_async(localhost): %u addresses\n", g_list_length(addresses));
  g_resolver_free_addresses(addresses);
  exchange_done();
}

static int clean_thread(void) {
  int listener = lv_listener(&listen_port);
  start_holder();
  loop = g_main_loop_new(NULL, FALSE);
  GTask* task = g_task_new(NULL, NULL, on_task_done, NULL);
  g_task_run_in_thread(task, task_blocks);
  g_object_unref(task);
  GThread* thread = g_thread_new("blocker", thread_blocks, NULL);
  GResolver* resolver = g_resolver_get_default();
  g_resolver_lookup_by_name_async(resolver, "localhost", NULL, on_resolved, NULL);
  g_main_loop_run(loop);
  g_main_loop_unref(loop);
  g_object_unref(resolver);
  g_thread_join(thread);
  g_thread_join(holder);
  close(listener);
  return 0;
}

// --- clean-spawn-off-loop ---------------------------------------------------------------------

// g_spawn_sync reading stdout and stderr: a poll() of two pipes with no timeout, then waitpid().
// Blocking, but never on a loop thread here.
static void spawn_for_output(const char* who) {
  gchar* argv[] = {"sh", "-c", "echo out; echo err >&2", NULL};
  gchar* out = NULL;
  gchar* err = NULL;
  gint status = -1;
  GError* error = NULL;
  if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error))
    lv_die(error->message);
  printf("g_spawn_sync(sh) %s: status %d, output %s", who, status, out);
  g_free(out);
  g_free(err);
}

static void task_spawns(GTask* task, gpointer source, gpointer data, GCancellable* cancellable) {
  (void)source, (void)data, (void)cancellable;
  spawn_for_output("in a GTask");
  g_task_return_boolean(task, TRUE);
}

static void on_spawn_task_done(GObject* source, GAsyncResult* result, gpointer data) {
  (void)source, (void)data;
  if (!g_task_propagate_boolean(G_TASK(result), NULL)) lv_die("task");
  exchange_done();
}

static gboolean on_spawn_thread_done(gpointer data) {
  (void)data;
  exchange_done();
  return G_SOURCE_REMOVE;
}

static gpointer thread_spawns(gpointer data) {
  (void)data;
  spawn_for_output("in a GThread");
  g_idle_add(on_spawn_thread_done, NULL);
  return NULL;
}

static int clean_spawn_off_loop(void) {
  spawn_for_output("before the loop");
  exchanges_left = 2;
  loop = g_main_loop_new(NULL, FALSE);
  GTask* task = g_task_new(NULL, NULL, on_spawn_task_done, NULL);
  g_task_run_in_thread(task, task_spawns);
  g_object_unref(task);
  GThread* thread = g_thread_new("spawner", thread_spawns, NULL);
  g_main_loop_run(loop);
  g_main_loop_unref(loop);
  g_thread_join(thread);
  return 0;
}

static gboolean on_timeout_quits(gpointer data);

// --- clean-poll-before-loop -------------------------------------------------------------------

// Waits for one of two pipes, once, and returns: a poll over two descriptors that ends with
// this function.
__attribute__((noinline)) static void wait_for_either_pipe(void) {
  int a[2], b[2];
  if (pipe(a) != 0 || pipe(b) != 0) lv_die("pipe");
  if (write(a[1], "x", 1) != 1) lv_die("write");
  struct pollfd fds[2] = {{a[0], POLLIN, 0}, {b[0], POLLIN, 0}};
  int ready = poll(fds, 2, 1000);
  printf("poll() of two pipes before the loop: %d ready\n", ready);
  close(a[0]);
  close(a[1]);
  close(b[0]);
  close(b[1]);
}

static int clean_poll_before_loop(void) {
  wait_for_either_pipe();
  loop = g_main_loop_new(NULL, FALSE);
  g_timeout_add(50, on_timeout_quits, NULL);  // the loop's poll waits 50 ms
  g_main_loop_run(loop);
  g_main_loop_unref(loop);
  return 0;
}

// --- clean-after ------------------------------------------------------------------------------

static gboolean on_timeout_quits(gpointer data) {
  (void)data;
  printf("timeout fired\n");
  g_main_loop_quit(loop);
  return G_SOURCE_REMOVE;
}

// What a program does at shutdown, once its loop returned: all of it may block.
__attribute__((noinline)) static void shutdown_after_loop(void) {
  g_usleep(50 * 1000);
  pid_t pid = lv_child(30);
  if (waitpid(pid, NULL, 0) != pid) lv_die("waitpid");
  int fd = lv_temp_file();
  if (write(fd, "state\n", 6) != 6 || fsync(fd) != 0) lv_die("fsync");
  close(fd);
  start_holder();
  long start = lv_now_ms();
  g_mutex_lock(&shared_mutex);
  long waited = lv_now_ms() - start;
  g_mutex_unlock(&shared_mutex);
  printf("after g_main_loop_run: g_usleep, waitpid, fsync, a GMutex that waited %ld ms\n", waited);
}

static int clean_after(void) {
  loop = g_main_loop_new(NULL, FALSE);
  g_timeout_add(10, on_timeout_quits, NULL);
  g_main_loop_run(loop);
  shutdown_after_loop();  // g_main_loop_run returned; the loop and its context still exist
  g_main_loop_unref(loop);
  g_thread_join(holder);
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "sleep") == 0) {
    run_timeout_loop(on_timeout_sleeps);
  } else if (strcmp(mode, "mutex") == 0) {
    start_holder();
    run_timeout_loop(on_timeout_locks_gmutex);
    g_thread_join(holder);
  } else if (strcmp(mode, "spawn") == 0) {
    run_timeout_loop(on_timeout_spawns_sync);
  } else if (strcmp(mode, "spawn-output") == 0) {
    run_timeout_loop(on_timeout_spawns_for_output);
  } else if (strcmp(mode, "clean-io") == 0) {
    return clean_io();
  } else if (strcmp(mode, "clean-thread") == 0) {
    return clean_thread();
  } else if (strcmp(mode, "clean-spawn-off-loop") == 0) {
    return clean_spawn_off_loop();
  } else if (strcmp(mode, "clean-poll-before-loop") == 0) {
    return clean_poll_before_loop();
  } else if (strcmp(mode, "clean-after") == 0) {
    return clean_after();
  } else {
    fprintf(stderr,
            "usage: glib_victim "
            "sleep|mutex|spawn|spawn-output|clean-io|clean-thread|clean-spawn-off-loop|clean-poll-"
            "before-loop|clean-after\n");
    return 2;
  }
  return 0;
}
