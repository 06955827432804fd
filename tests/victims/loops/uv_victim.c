// libuv victim: loop callbacks that block (the bugs), and programs that keep their loop free.
// Usage: uv_victim MODE
//   sleep        a timer callback sleeps 20 ms with usleep()
//   getaddrinfo  a timer callback resolves "localhost" with getaddrinfo()
//   connect      a timer callback connects a blocking socket to a loopback listener
//   waitpid      a timer callback waits for a child process with waitpid()
//   clean-io     no finding: a TCP echo over loopback (uv_tcp), a socketpair through uv_pipe_open
//                (libuv makes those descriptors non-blocking with ioctl(FIONBIO))
//   clean-work   no finding: the same blocking calls in uv_queue_work, and the library's own
//                off-loop APIs: uv_getaddrinfo, uv_spawn + exit callback, uv_fs_fsync
//   clean-after  no finding: blocking shutdown code after uv_run() returned, before
//                uv_loop_close()
// Every mode prints what it did and exits 0.
#include "loops_common.h"

#include <netdb.h>
#include <uv.h>

static uv_loop_t loop;
static int listen_fd = -1;
static int listen_port;
static pid_t child_pid;

static void check(int rc, const char* what) {
  if (rc < 0) {
    fprintf(stderr, "victim: %s: %s\n", what, uv_strerror(rc));
    exit(3);
  }
}

// --- the bugs: blocking calls in timer callbacks --------------------------------------------

__attribute__((noinline)) void on_timer_sleeps(uv_timer_t* timer) {
  usleep(20 * 1000);
  printf("usleep(20 ms) in a timer callback\n");
  uv_close((uv_handle_t*)timer, NULL);
}

__attribute__((noinline)) void on_timer_resolves_name(uv_timer_t* timer) {
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* res = NULL;
  int rc = getaddrinfo("localhost", "80", &hints, &res);
  printf("getaddrinfo(localhost) = %d in a timer callback\n", rc);
  if (res) freeaddrinfo(res);
  uv_close((uv_handle_t*)timer, NULL);
}

__attribute__((noinline)) void on_timer_connects_blocking(uv_timer_t* timer) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr = lv_loopback(listen_port);
  if (fd < 0 || connect(fd, (struct sockaddr*)&addr, sizeof addr) != 0) lv_die("connect");
  printf("connect() of a blocking socket in a timer callback\n");
  close(fd);
  uv_close((uv_handle_t*)timer, NULL);
}

__attribute__((noinline)) void on_timer_waits_for_child(uv_timer_t* timer) {
  int status = 0;
  long start = lv_now_ms();
  if (waitpid(child_pid, &status, 0) != child_pid) lv_die("waitpid");
  printf("waitpid() in a timer callback waited %ld ms\n", lv_now_ms() - start);
  uv_close((uv_handle_t*)timer, NULL);
}

// One loop with one timer that fires at once and runs `callback`.
static void run_timer_loop(uv_timer_cb callback) {
  static uv_timer_t timer;
  check(uv_loop_init(&loop), "uv_loop_init");
  check(uv_timer_init(&loop, &timer), "uv_timer_init");
  check(uv_timer_start(&timer, callback, 0, 0), "uv_timer_start");
  uv_run(&loop, UV_RUN_DEFAULT);
  check(uv_loop_close(&loop), "uv_loop_close");
}

// --- clean-io ---------------------------------------------------------------------------------

static uv_tcp_t server, server_conn, client;
static uv_pipe_t pipe_a, pipe_b;
static uv_connect_t connect_req;
static int exchanges_left = 2;

typedef struct {
  uv_write_t req;
  char data[64];
} write_req;

static void alloc_buffer(uv_handle_t* handle, size_t suggested, uv_buf_t* buf) {
  (void)handle;
  buf->base = malloc(suggested);
  buf->len = suggested;
}

static void free_write(uv_write_t* req, int status) {
  if (status != UV_ECANCELED) check(status, "uv_write");
  free(req);
}

static void send_text(uv_stream_t* stream, const char* text, size_t len) {
  write_req* w = malloc(sizeof *w);
  memcpy(w->data, text, len);
  uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
  check(uv_write(&w->req, stream, &buf, 1, free_write), "uv_write");
}

static void exchange_done(void) {
  if (--exchanges_left == 0) uv_close((uv_handle_t*)&server, NULL);
}

static void on_echo_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  if (nread > 0) send_text(stream, buf->base, (size_t)nread);
  if (nread == UV_EOF) uv_close((uv_handle_t*)stream, NULL);
  free(buf->base);
}

static void on_connection(uv_stream_t* listener, int status) {
  check(status, "connection");
  check(uv_tcp_init(&loop, &server_conn), "uv_tcp_init");
  check(uv_accept(listener, (uv_stream_t*)&server_conn), "uv_accept");
  check(uv_read_start((uv_stream_t*)&server_conn, alloc_buffer, on_echo_read), "uv_read_start");
}

static void on_client_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  if (nread > 0) {
    printf("uv_tcp echo: %.*s\n", (int)nread, buf->base);
    uv_close((uv_handle_t*)stream, NULL);
    exchange_done();
  }
  free(buf->base);
}

static void on_connected(uv_connect_t* req, int status) {
  check(status, "uv_tcp_connect");
  send_text(req->handle, "ping", 4);
  check(uv_read_start(req->handle, alloc_buffer, on_client_read), "uv_read_start");
}

static void on_pipe_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  if (nread > 0) {
    printf("uv_pipe over a socketpair: %.*s\n", (int)nread, buf->base);
    uv_close((uv_handle_t*)stream, NULL);
    uv_close((uv_handle_t*)&pipe_a, NULL);
    exchange_done();
  }
  free(buf->base);
}

static int clean_io(void) {
  check(uv_loop_init(&loop), "uv_loop_init");
  // TCP over loopback: libuv's own non-blocking sockets, connect() gives EINPROGRESS.
  struct sockaddr_in addr = lv_loopback(0);
  check(uv_tcp_init(&loop, &server), "uv_tcp_init");
  check(uv_tcp_bind(&server, (struct sockaddr*)&addr, 0), "uv_tcp_bind");
  check(uv_listen((uv_stream_t*)&server, 16, on_connection), "uv_listen");
  int len = sizeof addr;
  check(uv_tcp_getsockname(&server, (struct sockaddr*)&addr, &len), "uv_tcp_getsockname");
  check(uv_tcp_init(&loop, &client), "uv_tcp_init");
  check(uv_tcp_connect(&connect_req, &client, (struct sockaddr*)&addr, on_connected),
        "uv_tcp_connect");
  // A socketpair created blocking; uv_pipe_open makes both ends non-blocking.
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) lv_die("socketpair");
  check(uv_pipe_init(&loop, &pipe_a, 0), "uv_pipe_init");
  check(uv_pipe_init(&loop, &pipe_b, 0), "uv_pipe_init");
  check(uv_pipe_open(&pipe_a, sv[0]), "uv_pipe_open");
  check(uv_pipe_open(&pipe_b, sv[1]), "uv_pipe_open");
  check(uv_read_start((uv_stream_t*)&pipe_b, alloc_buffer, on_pipe_read), "uv_read_start");
  send_text((uv_stream_t*)&pipe_a, "hello", 5);
  uv_run(&loop, UV_RUN_DEFAULT);
  check(uv_loop_close(&loop), "uv_loop_close");
  return 0;
}

// --- clean-work -------------------------------------------------------------------------------

static pthread_mutex_t shared_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct lv_holder holder;

// Everything the buggy modes do on the loop, and a contended mutex, on a pool thread.
static void work_blocks(uv_work_t* req) {
  (void)req;
  struct addrinfo* res = NULL;
  if (getaddrinfo("localhost", "80", NULL, &res) == 0) freeaddrinfo(res);
  usleep(50 * 1000);
  int fd = lv_temp_file();
  if (write(fd, "state\n", 6) != 6 || fsync(fd) != 0) lv_die("fsync");
  close(fd);
  int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr = lv_loopback(listen_port);
  if (sock < 0 || connect(sock, (struct sockaddr*)&addr, sizeof addr) != 0) lv_die("connect");
  close(sock);
  pid_t pid = lv_child(30);
  if (waitpid(pid, NULL, 0) != pid) lv_die("waitpid");
  pthread_mutex_lock(&shared_mutex);
  pthread_mutex_unlock(&shared_mutex);
}

static void after_work(uv_work_t* req, int status) {
  (void)req;
  check(status, "uv_queue_work");
  printf("uv_queue_work: getaddrinfo, usleep, fsync, connect, waitpid, contended mutex\n");
}

static void on_resolved(uv_getaddrinfo_t* req, int status, struct addrinfo* res) {
  (void)req;
  printf("uv_getaddrinfo(localhost) = %d\n", status);
  uv_freeaddrinfo(res);
}

static void on_process_exit(uv_process_t* process, int64_t status, int signal) {
  printf("uv_spawn(true) exited with %d (signal %d)\n", (int)status, signal);
  uv_close((uv_handle_t*)process, NULL);
}

static void on_fsynced(uv_fs_t* req) {
  check((int)req->result, "uv_fs_fsync");
  printf("uv_fs_fsync = %d\n", (int)req->result);
  uv_fs_req_cleanup(req);
}

static int clean_work(void) {
  static uv_work_t work;
  static uv_getaddrinfo_t resolve;
  static uv_process_t process;
  static uv_fs_t fsync_req;
  int listener = lv_listener(&listen_port);
  lv_hold(&holder, &shared_mutex, LV_CONTENDED_MS);
  check(uv_loop_init(&loop), "uv_loop_init");
  check(uv_queue_work(&loop, &work, work_blocks, after_work), "uv_queue_work");
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  check(uv_getaddrinfo(&loop, &resolve, on_resolved, "localhost", "80", &hints), "uv_getaddrinfo");
  char* args[] = {"true", NULL};
  uv_process_options_t options;
  memset(&options, 0, sizeof options);
  options.file = "true";
  options.args = args;
  options.exit_cb = on_process_exit;
  check(uv_spawn(&loop, &process, &options), "uv_spawn");
  int fd = lv_temp_file();
  if (write(fd, "state\n", 6) != 6) lv_die("write");
  check(uv_fs_fsync(&loop, &fsync_req, fd, on_fsynced), "uv_fs_fsync");
  uv_run(&loop, UV_RUN_DEFAULT);
  check(uv_loop_close(&loop), "uv_loop_close");
  close(fd);
  close(listener);
  lv_holder_join(&holder);
  return 0;
}

// --- clean-after ------------------------------------------------------------------------------

static void on_timer_does_nothing(uv_timer_t* timer) {
  printf("timer fired\n");
  uv_close((uv_handle_t*)timer, NULL);
}

static int clean_after(void) {
  static uv_timer_t timer;
  check(uv_loop_init(&loop), "uv_loop_init");
  check(uv_timer_init(&loop, &timer), "uv_timer_init");
  check(uv_timer_start(&timer, on_timer_does_nothing, 10, 0), "uv_timer_start");
  uv_run(&loop, UV_RUN_DEFAULT);
  // uv_run returned; the loop (and its epoll descriptor) still exists
  lv_shutdown_after_loop("uv_run", &holder, &shared_mutex);
  check(uv_loop_close(&loop), "uv_loop_close");
  lv_holder_join(&holder);
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "sleep") == 0) {
    run_timer_loop(on_timer_sleeps);
  } else if (strcmp(mode, "getaddrinfo") == 0) {
    run_timer_loop(on_timer_resolves_name);
  } else if (strcmp(mode, "connect") == 0) {
    listen_fd = lv_listener(&listen_port);
    run_timer_loop(on_timer_connects_blocking);
    close(listen_fd);
  } else if (strcmp(mode, "waitpid") == 0) {
    child_pid = lv_child(50);  // forked before the loop starts
    run_timer_loop(on_timer_waits_for_child);
  } else if (strcmp(mode, "clean-io") == 0) {
    return clean_io();
  } else if (strcmp(mode, "clean-work") == 0) {
    return clean_work();
  } else if (strcmp(mode, "clean-after") == 0) {
    return clean_after();
  } else {
    fprintf(stderr,
            "usage: uv_victim sleep|getaddrinfo|connect|waitpid|clean-io|clean-work|clean-after\n");
    return 2;
  }
  return 0;
}
