// libevent victim: loop callbacks that block (the bugs), and programs that keep their loop free.
// Usage: event_victim MODE
//   sleep         a timer callback sleeps 20 ms with usleep()
//   recv          a timer callback recv()s on a blocking socketpair whose peer writes ~200 ms
//                 later
//   fsync         a timer callback writes a file and fsync()s it
//   clean-io      no finding: bufferevents (TCP echo through evconnlistener and
//                 bufferevent_socket_connect, a socketpair made non-blocking), evdns_getaddrinfo
//   clean-thread  no finding: the blocking calls on a worker thread that wakes the loop with
//                 event_active() (evthread_use_pthreads: the base has locks)
//   clean-after   no finding: blocking shutdown code after event_base_dispatch() returned,
//                 before event_base_free()
// Every mode prints what it did and exits 0.
#include "loops_common.h"

#include <netdb.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>

static struct event_base* base;
static int pair[2];
static pthread_t writer;

// --- the bugs: blocking calls in timer callbacks --------------------------------------------

__attribute__((noinline)) void on_timer_sleeps(evutil_socket_t fd, short what, void* arg) {
  (void)fd, (void)what, (void)arg;
  usleep(20 * 1000);
  printf("usleep(20 ms) in a timer callback\n");
}

static void* write_later(void* arg) {
  (void)arg;
  usleep(200 * 1000);
  if (write(pair[1], "late", 4) != 4) lv_die("write");
  return NULL;
}

__attribute__((noinline)) void on_timer_receives_blocking(evutil_socket_t fd, short what,
                                                          void* arg) {
  (void)fd, (void)what, (void)arg;
  if (pthread_create(&writer, NULL, write_later, NULL) != 0) lv_die("pthread_create");
  char buf[8];
  long start = lv_now_ms();
  ssize_t n = recv(pair[0], buf, sizeof buf, 0);  // blocking socket: waits for the writer
  if (n != 4) lv_die("recv");
  printf("recv() on a blocking socket in a timer callback waited %ld ms for '%.4s'\n",
         lv_now_ms() - start, buf);
}

__attribute__((noinline)) void on_timer_syncs_journal(evutil_socket_t fd, short what, void* arg) {
  (void)fd, (void)what, (void)arg;
  int file = lv_temp_file();
  if (write(file, "journal\n", 8) != 8 || fsync(file) != 0) lv_die("fsync");
  close(file);
  printf("fsync() in a timer callback\n");
}

// One base with one timer that fires at once and runs `callback`.
static void run_timer_loop(event_callback_fn callback) {
  base = event_base_new();
  if (!base) lv_die("event_base_new");
  struct event* timer = evtimer_new(base, callback, NULL);
  struct timeval now = {0, 0};
  evtimer_add(timer, &now);
  event_base_dispatch(base);
  event_free(timer);
  event_base_free(base);
}

// --- clean-io ---------------------------------------------------------------------------------

static int exchanges_left = 3;

static void exchange_done(void) {
  if (--exchanges_left == 0) event_base_loopbreak(base);
}

static void echo_read(struct bufferevent* bev, void* arg) {
  (void)arg;
  bufferevent_write_buffer(bev, bufferevent_get_input(bev));
}

static void echo_event(struct bufferevent* bev, short events, void* arg) {
  (void)arg;
  if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) bufferevent_free(bev);
}

static void on_accept(struct evconnlistener* listener, evutil_socket_t fd, struct sockaddr* addr,
                      int len, void* arg) {
  (void)listener, (void)addr, (void)len, (void)arg;
  struct bufferevent* bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(bev, echo_read, NULL, echo_event, NULL);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void client_read(struct bufferevent* bev, void* arg) {
  (void)arg;
  char buf[16];
  size_t n = bufferevent_read(bev, buf, sizeof buf);
  printf("bufferevent TCP echo: %.*s\n", (int)n, buf);
  bufferevent_free(bev);
  exchange_done();
}

static void client_event(struct bufferevent* bev, short events, void* arg) {
  (void)arg;
  if (events & BEV_EVENT_CONNECTED) bufferevent_write(bev, "ping", 4);
  if (events & BEV_EVENT_ERROR) lv_die("bufferevent_socket_connect");
}

static void pair_read(struct bufferevent* bev, void* arg) {
  char buf[16];
  size_t n = bufferevent_read(bev, buf, sizeof buf);
  printf("bufferevent over a socketpair: %.*s\n", (int)n, buf);
  bufferevent_free(bev);
  bufferevent_free((struct bufferevent*)arg);
  exchange_done();
}

static void on_dns(int result, struct evutil_addrinfo* res, void* arg) {
  (void)arg;
  printf("evdns_getaddrinfo(localhost) = %d\n", result);
  if (res) evutil_freeaddrinfo(res);
  exchange_done();
}

static int clean_io(void) {
  base = event_base_new();
  // TCP over loopback: the listener and the client socket are non-blocking (libevent's fcntl).
  struct sockaddr_in addr = lv_loopback(0);
  struct evconnlistener* listener =
      evconnlistener_new_bind(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                              16, (struct sockaddr*)&addr, sizeof addr);
  if (!listener) lv_die("evconnlistener_new_bind");
  socklen_t len = sizeof addr;
  getsockname(evconnlistener_get_fd(listener), (struct sockaddr*)&addr, &len);
  struct bufferevent* client = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(client, client_read, NULL, client_event, NULL);
  bufferevent_enable(client, EV_READ | EV_WRITE);
  if (bufferevent_socket_connect(client, (struct sockaddr*)&addr, sizeof addr) != 0)
    lv_die("bufferevent_socket_connect");
  // A socketpair created blocking, then made non-blocking.
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) lv_die("socketpair");
  evutil_make_socket_nonblocking(pair[0]);
  evutil_make_socket_nonblocking(pair[1]);
  struct bufferevent* a = bufferevent_socket_new(base, pair[0], BEV_OPT_CLOSE_ON_FREE);
  struct bufferevent* b = bufferevent_socket_new(base, pair[1], BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(b, pair_read, NULL, NULL, a);
  bufferevent_enable(b, EV_READ);
  bufferevent_enable(a, EV_WRITE);
  bufferevent_write(a, "hello", 5);
  // Name resolution through libevent's own asynchronous resolver (/etc/hosts answers).
  struct evdns_base* dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
  struct evutil_addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  evdns_getaddrinfo(dns, "localhost", "80", &hints, on_dns, NULL);
  event_base_dispatch(base);
  evdns_base_free(dns, 0);
  evconnlistener_free(listener);
  event_base_free(base);
  return 0;
}

// --- clean-thread -----------------------------------------------------------------------------

static pthread_mutex_t shared_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct lv_holder holder;
static struct event* work_done;
static int listen_port;

// Everything the buggy modes do on the loop, and more, on a worker thread.
static void* worker_blocks(void* arg) {
  (void)arg;
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
  pthread_t late;
  if (pthread_create(&late, NULL, write_later, NULL) != 0) lv_die("pthread_create");
  char buf[8];
  if (recv(pair[0], buf, sizeof buf, 0) != 4) lv_die("recv");
  pthread_join(late, NULL);
  pid_t pid = lv_child(30);
  if (waitpid(pid, NULL, 0) != pid) lv_die("waitpid");
  pthread_mutex_lock(&shared_mutex);
  pthread_mutex_unlock(&shared_mutex);
  event_active(work_done, EV_READ, 0);  // wakes the loop from this thread
  return NULL;
}

static void on_work_done(evutil_socket_t fd, short what, void* arg) {
  (void)fd, (void)what, (void)arg;
  printf("worker: getaddrinfo, usleep, fsync, connect, recv, waitpid, contended mutex\n");
  event_base_loopbreak(base);
}

static void on_tick(evutil_socket_t fd, short what, void* arg) {
  (void)fd, (void)what, (void)arg;
}

static int clean_thread(void) {
  if (evthread_use_pthreads() != 0) lv_die("evthread_use_pthreads");
  int listener = lv_listener(&listen_port);
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) lv_die("socketpair");
  lv_hold(&holder, &shared_mutex, LV_CONTENDED_MS);
  base = event_base_new();
  work_done = event_new(base, -1, 0, on_work_done, NULL);
  // The loop keeps turning while the worker blocks: a 20 ms tick.
  struct event* tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
  struct timeval period = {0, 20 * 1000};
  event_add(tick, &period);
  pthread_t worker;
  if (pthread_create(&worker, NULL, worker_blocks, NULL) != 0) lv_die("pthread_create");
  event_base_dispatch(base);
  event_free(tick);
  event_free(work_done);
  event_base_free(base);
  pthread_join(worker, NULL);
  lv_holder_join(&holder);
  close(listener);
  return 0;
}

// --- clean-after ------------------------------------------------------------------------------

static void on_timer_does_nothing(evutil_socket_t fd, short what, void* arg) {
  (void)fd, (void)what, (void)arg;
  printf("timer fired\n");
}

static int clean_after(void) {
  base = event_base_new();
  struct event* timer = evtimer_new(base, on_timer_does_nothing, NULL);
  struct timeval soon = {0, 10 * 1000};
  evtimer_add(timer, &soon);
  event_base_dispatch(base);
  // dispatch returned; the base (and its epoll descriptor) still exists
  lv_shutdown_after_loop("event_base_dispatch", &holder, &shared_mutex);
  event_free(timer);
  event_base_free(base);
  lv_holder_join(&holder);
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "sleep") == 0) {
    run_timer_loop(on_timer_sleeps);
  } else if (strcmp(mode, "recv") == 0) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) lv_die("socketpair");
    run_timer_loop(on_timer_receives_blocking);
    pthread_join(writer, NULL);
  } else if (strcmp(mode, "fsync") == 0) {
    run_timer_loop(on_timer_syncs_journal);
  } else if (strcmp(mode, "clean-io") == 0) {
    return clean_io();
  } else if (strcmp(mode, "clean-thread") == 0) {
    return clean_thread();
  } else if (strcmp(mode, "clean-after") == 0) {
    return clean_after();
  } else {
    fprintf(stderr, "usage: event_victim sleep|recv|fsync|clean-io|clean-thread|clean-after\n");
    return 2;
  }
  return 0;
}
