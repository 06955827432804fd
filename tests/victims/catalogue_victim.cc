// Every call of the blocking-call catalogue (issue 7), made once from the callback of a
// hand-written epoll loop, and set up so that it really blocks.
//
//   catalogue_victim list                 the rows that block (one name a line)
//   catalogue_victim list nonblocking     the rows that must stay quiet
//   catalogue_victim <row>                runs one blocking row
//   catalogue_victim nonblocking <row>    runs one quiet row
//   catalogue_victim list extra           rows for symbols the contract does not list (LFS
//                                         aliases, _FORTIFY_SOURCE, __res_query), each followed
//                                         by the `call` values a finding may name
//   catalogue_victim extra <row>          runs one of them
//
// A row is named after the libc function it calls, optionally followed by ".variant"
// ("read.socket" calls read() on a socket). The call is made from
//   extern "C" blocking_<row with '.' replaced by '_'>()      (or nonblocking_<...>)
// and from nowhere else. Whatever unblocks it (a peer thread, a child process, a fake DNS
// server, a userfaultfd handler) waits for the loop thread to open the gate just before the
// call, then waits kPeerMs ("always" rows) or kHoldMs (rows reported only past
// block_threshold_ms) more, so the call waits at least that long. The victim measures the
// wait itself and exits 4 if a row did not block as long as it should (exit 3: a step
// failed; exit 77: the machine lacks what the row needs, e.g. userfaultfd).
#include <arpa/inet.h>
#include <sys/socket.h>
#include <poll.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/userfaultfd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <resolv.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <latch>
#include <mutex>
#include <new>
#include <condition_variable>
#include <semaphore>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "timer_loop.h"

// pthread_cond_wait and pthread_cond_timedwait have two versions in glibc: programs built
// today bind GLIBC_2.3.2, old binaries GLIBC_2.2.5. These names bind the old ones.
extern "C" int compat_pthread_cond_wait(pthread_cond_t*, pthread_mutex_t*);
extern "C" int compat_pthread_cond_timedwait(pthread_cond_t*, pthread_mutex_t*, const timespec*);
extern "C" int compat_pthread_cond_signal(pthread_cond_t*);
__asm__(".symver compat_pthread_cond_wait,pthread_cond_wait@GLIBC_2.2.5");
__asm__(".symver compat_pthread_cond_timedwait,pthread_cond_timedwait@GLIBC_2.2.5");
__asm__(".symver compat_pthread_cond_signal,pthread_cond_signal@GLIBC_2.2.5");
// Programs built against glibc < 2.34 call libresolv's __res_query (glibc 2.34 moved it into
// libc as res_query@GLIBC_2.34 and kept __res_query@GLIBC_2.2.5 for them).
extern "C" int compat_res_query(const char*, int, int, unsigned char*, int);
__asm__(".symver compat_res_query,__res_query@GLIBC_2.2.5");
// What -D_FORTIFY_SOURCE (Debian's default build flags) makes of read/recv/pread/poll when the
// buffer's size is known and the length is not a constant.
extern "C" ssize_t fortified_read(int, void*, size_t, size_t) __asm__("__read_chk");
extern "C" ssize_t fortified_recv(int, void*, size_t, size_t, int) __asm__("__recv_chk");
extern "C" ssize_t fortified_recvfrom(int, void*, size_t, size_t, int, sockaddr*,
                                      socklen_t*) __asm__("__recvfrom_chk");
extern "C" ssize_t fortified_pread(int, void*, size_t, off_t, size_t) __asm__("__pread_chk");
extern "C" ssize_t fortified_pread64(int, void*, size_t, off64_t, size_t) __asm__("__pread64_chk");
extern "C" int fortified_poll(pollfd*, nfds_t, int, size_t) __asm__("__poll_chk");
extern "C" int fortified_ppoll(pollfd*, nfds_t, const timespec*, const sigset_t*,
                               size_t) __asm__("__ppoll_chk");

namespace {

constexpr int kPeerMs = 50;   // "always" rows: the peer answers this long after the gate
constexpr int kHoldMs = 300;  // threshold rows: the call waits at least this long

double now_ms() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "catalogue_victim: %s failed: %s\n", what, strerror(errno));
  _exit(3);
}
void check(bool ok, const char* what) {
  if (!ok) fail(what);
}
[[noreturn]] void unsupported(const char* what) {
  printf("unsupported: %s: %s\n", what, strerror(errno));
  _exit(77);
}

// --- The gate: shared with child processes --------------------------------------------------

struct Shared {
  std::atomic<int> gate;  // the loop thread is about to make the call
  std::atomic<int> held;  // a helper holds what the call will wait for
};
Shared* shared = nullptr;
std::atomic<bool> stopping{false};

// An atomic store, no libc call: the only thing a blocking_* function does besides its call.
inline void open_gate() {
  shared->gate.store(1);
}
// Helpers (threads or child processes, never the loop thread) wait at most 10 s.
void await(std::atomic<int>& flag) {
  for (int i = 0; i < 10000 && flag.load() == 0; ++i) usleep(1000);
}
void await_gate() {
  await(shared->gate);
}
void await_held() {
  await(shared->held);
  check(shared->held.load() != 0, "a helper taking what the call waits for");
}

std::vector<std::thread> helpers;
std::vector<std::string> paths_to_remove;

// Runs `fn` on a helper thread `ms` after the gate opened.
template <typename F>
void after_gate(int ms, F fn) {
  helpers.emplace_back([ms, fn] {
    await_gate();
    usleep(ms * 1000);
    fn();
  });
}

// A helper thread takes something (held), and releases it kHoldMs after the gate opened.
template <typename Take, typename Release>
void hold(Take take, Release release) {
  helpers.emplace_back([take, release] {
    take();
    shared->held.store(1);
    await_gate();
    usleep(kHoldMs * 1000);
    release();
  });
  await_held();
}

// The same from a child process (POSIX record locks belong to a process).
template <typename Take>
void hold_in_child(Take take) {
  pid_t pid = fork();
  check(pid >= 0, "fork");
  if (pid == 0) {
    take();
    shared->held.store(1);
    await_gate();
    usleep(kHoldMs * 1000);
    _exit(0);  // releases it
  }
  await_held();
}

std::string temp_path(const char* what) {
  const char* dir = getenv("TMPDIR");
  std::string path = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") +
                     "/loopsan-catalogue-" + std::to_string(getpid()) + "-" + what;
  paths_to_remove.push_back(path);
  return path;
}

// A regular file holding 4 KiB of 'f'.
int make_file(const char* what) {
  int fd = open(temp_path(what).c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  check(fd >= 0, "open file");
  std::string data(4096, 'f');
  check(write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()), "fill file");
  check(lseek(fd, 0, SEEK_SET) == 0, "lseek");
  return fd;
}

timespec deadline_in(clockid_t clock, int ms) {
  timespec t{};
  clock_gettime(clock, &t);
  t.tv_sec += ms / 1000;
  t.tv_nsec += static_cast<long>(ms % 1000) * 1000000L;
  if (t.tv_nsec >= 1000000000L) {
    t.tv_nsec -= 1000000000L;
    ++t.tv_sec;
  }
  return t;
}

// --- Descriptors ----------------------------------------------------------------------------

int fds[4] = {-1, -1, -1, -1};
volatile int sink;  // written after a call, so that the call is never a tail call
char buf[8192];

void set_nonblocking(int fd, bool on) {
  int flags = fcntl(fd, F_GETFL);
  check(flags >= 0, "F_GETFL");
  check(fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) == 0, "F_SETFL");
}

// Reads `fd` until a 'Z' arrives (what the blocked call writes), at most 5 s.
void drain_until_z(int fd) {
  char data[8192];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    check(poll(&p, 1, 5000) == 1, "drain: the blocked write never came");
    ssize_t n = read(fd, data, sizeof data);
    check(n > 0, "drain");
    if (memchr(data, 'Z', static_cast<size_t>(n)) != nullptr) return;
  }
}

// Fills a socket's buffers or a pipe without blocking (zeros): the next blocking write waits.
void fill(int fd, bool is_socket) {
  char zeros[1024] = {};
  for (size_t size : {sizeof zeros, size_t{1}}) {
    for (;;) {
      ssize_t n = is_socket ? send(fd, zeros, size, MSG_DONTWAIT) : write(fd, zeros, size);
      if (n < 0) break;
    }
    check(errno == EAGAIN || errno == EWOULDBLOCK, "fill");
  }
}

// fds[0] and fds[1]: a socket pair; the peer fds[1] sends 'x' kPeerMs after the gate.
void socket_peer_sends(int type, bool nonblocking) {
  check(socketpair(AF_UNIX, type | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0, fds) == 0,
        "socketpair");
  int peer = fds[1];
  if (!nonblocking) after_gate(kPeerMs, [peer] { check(send(peer, "x", 1, 0) == 1, "peer send"); });
}

// fds[0] and fds[1]: a socket pair whose fds[0] cannot send any more; the peer drains it
// kPeerMs after the gate, until the 'Z' the blocked call sends.
void socket_full(int type, bool nonblocking) {
  check(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) == 0, "socketpair");
  fill(fds[0], true);
  if (nonblocking) {
    set_nonblocking(fds[0], true);
    return;
  }
  int peer = fds[1];
  after_gate(kPeerMs, [peer] { drain_until_z(peer); });
}

// fds[0] and fds[1]: a pipe; fds[1] writes 'x' kHoldMs after the gate.
void pipe_writer_later(bool nonblocking) {
  check(pipe2(fds, O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0)) == 0, "pipe2");
  int writer = fds[1];
  if (!nonblocking) after_gate(kHoldMs, [writer] { check(write(writer, "x", 1) == 1, "write"); });
}

// fds[0] and fds[1]: a full pipe (one page); fds[0] is drained kHoldMs after the gate.
void pipe_full(bool nonblocking) {
  check(pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0, "pipe2");
  check(fcntl(fds[1], F_SETPIPE_SZ, 4096) >= 0, "F_SETPIPE_SZ");
  fill(fds[1], false);
  if (nonblocking) return;
  set_nonblocking(fds[0], false);
  set_nonblocking(fds[1], false);
  int reader = fds[0];
  after_gate(kHoldMs, [reader] { drain_until_z(reader); });
}

// A page whose first touch waits: the kernel's copy to or from it (inside read, pwrite, ...)
// stops in the page fault until a helper thread, kHoldMs after the gate, supplies the page.
std::atomic<int> fault_seen{0};
char* faulting_page() {
  long size = sysconf(_SC_PAGESIZE);
  int uffd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  if (uffd < 0) unsupported("userfaultfd (needs CAP_SYS_PTRACE or vm.unprivileged_userfaultfd)");
  uffdio_api api{};
  api.api = UFFD_API;
  if (ioctl(uffd, UFFDIO_API, &api) != 0) unsupported("UFFDIO_API");
  void* mem = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  check(mem != MAP_FAILED, "mmap");
  uffdio_register reg{};
  reg.range.start = reinterpret_cast<uintptr_t>(mem);
  reg.range.len = static_cast<uint64_t>(size);
  reg.mode = UFFDIO_REGISTER_MODE_MISSING;
  if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) unsupported("UFFDIO_REGISTER");
  helpers.emplace_back([uffd, mem, size] {
    pollfd p{uffd, POLLIN, 0};
    if (poll(&p, 1, 10000) != 1) return;  // never touched: the row fails on its own
    uffd_msg msg{};
    check(read(uffd, &msg, sizeof msg) == sizeof msg, "read uffd");
    fault_seen.store(1);
    await_gate();
    usleep(kHoldMs * 1000);
    std::vector<char> source(static_cast<size_t>(size) * 2, 'Z');
    // UFFDIO_COPY wants a page-aligned source.
    uintptr_t aligned =
        (reinterpret_cast<uintptr_t>(source.data()) + static_cast<uintptr_t>(size) - 1) &
        ~(static_cast<uintptr_t>(size) - 1);
    uffdio_copy copy{};
    copy.dst = reinterpret_cast<uintptr_t>(mem);
    copy.src = aligned;
    copy.len = static_cast<uint64_t>(size);
    check(ioctl(uffd, UFFDIO_COPY, &copy) == 0, "UFFDIO_COPY");
    close(uffd);
  });
  return static_cast<char*>(mem);
}

// --- Sleeps -----------------------------------------------------------------------------------

void on_sigusr1(int) {}
void interrupt_sleep_later() {
  struct sigaction sa {};
  sa.sa_handler = on_sigusr1;  // no SA_RESTART: the sleep returns early
  sigaction(SIGUSR1, &sa, nullptr);
  pthread_t loop_thread = pthread_self();
  after_gate(kPeerMs, [loop_thread] { pthread_kill(loop_thread, SIGUSR1); });
}

// --- Name resolution: a fake DNS server on 127.0.0.1 answers NXDOMAIN after kPeerMs ----------

sockaddr_in dns_server{};
void start_dns_server() {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  check(s >= 0, "dns socket");
  dns_server.sin_family = AF_INET;
  dns_server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  check(bind(s, reinterpret_cast<sockaddr*>(&dns_server), sizeof dns_server) == 0, "dns bind");
  socklen_t len = sizeof dns_server;
  check(getsockname(s, reinterpret_cast<sockaddr*>(&dns_server), &len) == 0, "getsockname");
  helpers.emplace_back([s] {
    while (!stopping.load()) {
      pollfd p{s, POLLIN, 0};
      if (poll(&p, 1, 20) != 1) continue;
      unsigned char q[512];
      sockaddr_in from{};
      socklen_t from_len = sizeof from;
      ssize_t n = recvfrom(s, q, sizeof q, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 12) continue;
      usleep(kPeerMs * 1000);
      // The header and the question, answered NXDOMAIN.
      size_t end = 12;
      while (end < static_cast<size_t>(n) && q[end] != 0) end += q[end] + 1u;
      end += 5;
      if (end > static_cast<size_t>(n)) continue;
      q[2] |= 0x80;  // QR
      q[3] = 0x83;   // RA, NXDOMAIN
      memset(q + 6, 0, 6);
      sendto(s, q, end, 0, reinterpret_cast<sockaddr*>(&from), from_len);
    }
    close(s);
  });
}
void use_dns_server(res_state state) {
  state->nscount = 1;
  state->nsaddr_list[0] = dns_server;
  state->retrans = 2;
  state->retry = 1;
  state->options &= ~(RES_DNSRCH | RES_DEFNAMES);  // one query, the name as given
}
struct __res_state resolver;
void setup_res() {
  start_dns_server();
  check(res_init() == 0, "res_init");
  use_dns_server(&_res);
}
void setup_res_n() {
  start_dns_server();
  check(res_ninit(&resolver) == 0, "res_ninit");
  use_dns_server(&resolver);
}
unsigned char answer[512];
sockaddr_in loopback_80() {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(80);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}
in_addr loopback_addr() {
  in_addr a{};
  a.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}
void check_host(hostent* h, const char* what) {
  check(h != nullptr && h->h_addr_list[0] != nullptr, what);
}

// --- Processes, threads ----------------------------------------------------------------------

pid_t child_pid = -1;
// A child that exits with status 7 kPeerMs after the gate (or at the end of the run).
void child_exits_later() {
  child_pid = fork();
  check(child_pid >= 0, "fork");
  if (child_pid == 0) {
    await_gate();
    usleep(kPeerMs * 1000);
    _exit(7);
  }
}
void check_child_status(pid_t got, int status, const char* what) {
  check(got == child_pid && WIFEXITED(status) && WEXITSTATUS(status) == 7, what);
}

pthread_t thread;
std::thread std_thread;
void* returns_later(void*) {
  await_gate();
  usleep(kPeerMs * 1000);
  return nullptr;
}
std::atomic<pid_t> finished_tid{0};
void* returns_at_once(void*) {
  finished_tid.store(static_cast<pid_t>(syscall(SYS_gettid)));
  return nullptr;
}
// A thread that has already exited (the kernel says its task is gone).
void thread_finished() {
  check(pthread_create(&thread, nullptr, returns_at_once, nullptr) == 0, "pthread_create");
  await(finished_tid);
  std::string task = "/proc/self/task/" + std::to_string(finished_tid.load());
  struct stat st {};
  for (int i = 0; i < 5000 && stat(task.c_str(), &st) == 0; ++i) usleep(1000);
  usleep(10000);
}

// --- Sockets -------------------------------------------------------------------------------

sockaddr_un unix_address(socklen_t* len) {
  static int counter = 0;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::string name =
      "loopsan-catalogue-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
  memcpy(a.sun_path + 1, name.data(), name.size());  // abstract: nothing to remove
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return a;
}
sockaddr_un listen_address;
socklen_t listen_address_len = 0;
int listener(int backlog, bool nonblocking) {
  int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  check(l >= 0, "socket");
  listen_address = unix_address(&listen_address_len);
  check(bind(l, reinterpret_cast<sockaddr*>(&listen_address), listen_address_len) == 0, "bind");
  check(listen(l, backlog) == 0, "listen");
  timeval five{5, 0};
  setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
  return l;
}
int connect_to_listener(bool nonblocking) {
  int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  check(c >= 0, "socket");
  return c;
}
// fds[0]: a listener; a client connects kPeerMs after the gate.
void listener_client_later(bool nonblocking) {
  fds[0] = listener(8, nonblocking);
  if (nonblocking) return;
  after_gate(kPeerMs, [] {
    int c = connect_to_listener(false);
    check(connect(c, reinterpret_cast<sockaddr*>(&listen_address), listen_address_len) == 0,
          "client connect");
    fds[3] = c;
  });
}
// fds[0]: a listener with a full backlog (AF_UNIX, backlog 0, one connection pending);
// fds[1]: the socket that will connect. A helper accepts kPeerMs after the gate.
void listener_full(bool nonblocking) {
  fds[0] = listener(0, false);
  fds[2] = connect_to_listener(false);
  check(connect(fds[2], reinterpret_cast<sockaddr*>(&listen_address), listen_address_len) == 0,
        "first connect");
  fds[1] = connect_to_listener(nonblocking);
  if (nonblocking) return;
  int l = fds[0];
  after_gate(kPeerMs, [l] {
    for (int i = 0; i < 2; ++i) check(accept(l, nullptr, nullptr) >= 0, "helper accept");
  });
}

msghdr one_byte_msg(iovec* iov) {
  msghdr m{};
  m.msg_iov = iov;
  m.msg_iovlen = 1;
  return m;
}

// --- Locks ------------------------------------------------------------------------------------

pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
pthread_cond_t compat_cond = PTHREAD_COND_INITIALIZER;
bool cond_flag = false;
sem_t sem;
std::mutex std_mutex;
std::shared_mutex std_shared_mutex;
std::condition_variable std_cond;

void mutex_held() {
  hold([] { pthread_mutex_lock(&mutex); }, [] { pthread_mutex_unlock(&mutex); });
}
void rwlock_held_for_writing() {
  hold([] { pthread_rwlock_wrlock(&rwlock); }, [] { pthread_rwlock_unlock(&rwlock); });
}
void rwlock_held_for_reading() {
  hold([] { pthread_rwlock_rdlock(&rwlock); }, [] { pthread_rwlock_unlock(&rwlock); });
}
void cond_signalled_later() {
  after_gate(kHoldMs, [] {
    pthread_mutex_lock(&mutex);
    cond_flag = true;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&mutex);
  });
}
void compat_cond_signalled_later() {
  after_gate(kHoldMs, [] {
    pthread_mutex_lock(&mutex);
    cond_flag = true;
    compat_pthread_cond_signal(&compat_cond);
    pthread_mutex_unlock(&mutex);
  });
}
void sem_posted_later() {
  check(sem_init(&sem, 0, 0) == 0, "sem_init");
  after_gate(kHoldMs, [] { sem_post(&sem); });
}
void sem_available() {
  check(sem_init(&sem, 0, 1) == 0, "sem_init");
}

// File locks: fds[0] is the loop's descriptor of a file that a helper has locked.
void file_locked(const char* kind) {
  fds[0] = make_file(kind);
  std::string path = paths_to_remove.back();
  if (strcmp(kind, "flock") == 0) {
    hold(
        [path] {
          fds[1] = open(path.c_str(), O_RDWR | O_CLOEXEC);
          check(fds[1] >= 0 && flock(fds[1], LOCK_EX) == 0, "helper flock");
        },
        [] { flock(fds[1], LOCK_UN); });
  } else if (strcmp(kind, "ofd") == 0) {
    hold(
        [path] {
          fds[1] = open(path.c_str(), O_RDWR | O_CLOEXEC);
          struct flock fl {};
          fl.l_type = F_WRLCK;
          fl.l_whence = SEEK_SET;
          check(fds[1] >= 0 && fcntl(fds[1], F_OFD_SETLK, &fl) == 0, "helper F_OFD_SETLK");
        },
        [] {
          struct flock fl {};
          fl.l_type = F_UNLCK;
          fl.l_whence = SEEK_SET;
          fcntl(fds[1], F_OFD_SETLK, &fl);
        });
  } else {  // a POSIX record lock, held by a child process
    bool use_lockf = strcmp(kind, "lockf") == 0;
    hold_in_child([path, use_lockf] {
      int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
      check(fd >= 0, "child open");
      if (use_lockf) {
        check(lockf(fd, F_LOCK, 0) == 0, "child lockf");
      } else {
        struct flock fl {};
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        check(fcntl(fd, F_SETLK, &fl) == 0, "child F_SETLK");
      }
    });
  }
}

// --- Futex waits ---------------------------------------------------------------------------

std::promise<int> promise;
std::future<int> future;
std::atomic<int> atomic_word{0};
std::counting_semaphore<8> counting{0};
std::latch latch{1};
int futex_word = 0;

void future_set_later() {
  future = promise.get_future();
  after_gate(kHoldMs, [] { promise.set_value(1); });
}
long futex(int* word, int op, int value, const timespec* timeout) {
  return syscall(SYS_futex, word, op, value, timeout, nullptr, 0);
}

// --- Regular files, sync ---------------------------------------------------------------------

int file_fd = -1;
char* page = nullptr;
char* mapping = nullptr;
void file_and_faulting_page() {
  file_fd = make_file("file");
  page = faulting_page();
}
void dirty_mapping() {
  file_fd = make_file("mapped");
  void* m = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, file_fd, 0);
  check(m != MAP_FAILED, "mmap file");
  mapping = static_cast<char*>(m);
  mapping[0] = 'd';
}
// copy_file_range: a helper's write() to the destination holds its inode lock while it
// faults on a page that is supplied kHoldMs after the gate.
void destination_locked() {
  fds[0] = make_file("source");
  fds[1] = make_file("destination");
  page = faulting_page();
  int dst = fds[1];
  char* p = page;
  helpers.emplace_back([dst, p] { check(pwrite(dst, p, 16, 0) == 16, "helper pwrite"); });
  await(fault_seen);
  check(fault_seen.load() != 0, "the helper's write to fault");
}

// --- Nested waits ------------------------------------------------------------------------------

int second_epoll = -1;
// fds[0]: a pipe written kPeerMs after the gate; second_epoll: an epoll set watching it.
void pipe_ready_later(bool with_epoll) {
  check(pipe2(fds, O_CLOEXEC) == 0, "pipe2");
  if (with_epoll) {
    second_epoll = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fds[0];
    check(epoll_ctl(second_epoll, EPOLL_CTL_ADD, fds[0], &ev) == 0, "epoll_ctl");
  }
  int writer = fds[1];
  after_gate(kPeerMs, [writer] { check(write(writer, "x", 1) == 1, "write"); });
}
void pipe_never_ready() {
  check(pipe2(fds, O_CLOEXEC) == 0, "pipe2");
  second_epoll = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fds[0];
  check(epoll_ctl(second_epoll, EPOLL_CTL_ADD, fds[0], &ev) == 0, "epoll_ctl");
}

}  // namespace

// =============================================================================================
// The calls. Each blocking_* / nonblocking_* function makes exactly one catalogue call.
// =============================================================================================
#define CALL extern "C" __attribute__((noinline)) void

// --- Sleeps
CALL blocking_sleep() {
  open_gate();
  check(sleep(1) <= 1, "sleep");  // interrupted by SIGUSR1 after kPeerMs
}
CALL blocking_usleep() {
  open_gate();
  check(usleep(kPeerMs * 1000) == 0, "usleep");
}
CALL blocking_nanosleep() {
  open_gate();
  timespec t{0, kPeerMs * 1000000L};
  check(nanosleep(&t, nullptr) == 0, "nanosleep");
}
CALL blocking_clock_nanosleep() {
  open_gate();
  timespec t{0, kPeerMs * 1000000L};
  check(clock_nanosleep(CLOCK_MONOTONIC, 0, &t, nullptr) == 0, "clock_nanosleep");
}
CALL blocking_clock_nanosleep_abs() {
  open_gate();
  timespec t = deadline_in(CLOCK_MONOTONIC, kPeerMs);
  check(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, nullptr) == 0, "clock_nanosleep");
}
CALL nonblocking_sleep() {
  check(sleep(0) == 0, "sleep");
}
CALL nonblocking_usleep() {
  check(usleep(0) == 0, "usleep");
}
CALL nonblocking_nanosleep() {
  timespec t{0, 0};
  check(nanosleep(&t, nullptr) == 0, "nanosleep");
}
CALL nonblocking_clock_nanosleep() {
  timespec t{0, 0};
  check(clock_nanosleep(CLOCK_MONOTONIC, 0, &t, nullptr) == 0, "clock_nanosleep");
}

// --- Name resolution
CALL blocking_getaddrinfo() {
  open_gate();
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* res = nullptr;
  check(getaddrinfo("localhost", nullptr, &hints, &res) == 0, "getaddrinfo");
  freeaddrinfo(res);
}
CALL blocking_gethostbyname() {
  open_gate();
  check_host(gethostbyname("localhost"), "gethostbyname");
}
CALL blocking_gethostbyname2() {
  open_gate();
  check_host(gethostbyname2("localhost", AF_INET), "gethostbyname2");
}
CALL blocking_gethostbyname_r() {
  open_gate();
  hostent h{}, *res = nullptr;
  int err = 0;
  gethostbyname_r("localhost", &h, buf, sizeof buf, &res, &err);
  check_host(res, "gethostbyname_r");
}
CALL blocking_gethostbyname2_r() {
  open_gate();
  hostent h{}, *res = nullptr;
  int err = 0;
  gethostbyname2_r("localhost", AF_INET, &h, buf, sizeof buf, &res, &err);
  check_host(res, "gethostbyname2_r");
}
CALL blocking_gethostbyaddr() {
  open_gate();
  in_addr a = loopback_addr();
  check_host(gethostbyaddr(&a, sizeof a, AF_INET), "gethostbyaddr");
}
CALL blocking_gethostbyaddr_r() {
  open_gate();
  in_addr a = loopback_addr();
  hostent h{}, *res = nullptr;
  int err = 0;
  gethostbyaddr_r(&a, sizeof a, AF_INET, &h, buf, sizeof buf, &res, &err);
  check_host(res, "gethostbyaddr_r");
}
CALL blocking_getnameinfo() {
  open_gate();
  sockaddr_in a = loopback_80();
  char host[256], serv[64];
  check(getnameinfo(reinterpret_cast<sockaddr*>(&a), sizeof a, host, sizeof host, serv, sizeof serv,
                    NI_NAMEREQD) == 0,
        "getnameinfo");
}
// The fake server answers NXDOMAIN: these fail, after waiting for it.
CALL blocking_res_query() {
  open_gate();
  check(res_query("localhost", C_IN, T_A, answer, sizeof answer) < 0, "res_query");
}
CALL blocking_res_search() {
  open_gate();
  check(res_search("localhost", C_IN, T_A, answer, sizeof answer) < 0, "res_search");
}
CALL blocking_res_querydomain() {
  open_gate();
  check(res_querydomain("localhost", "invalid", C_IN, T_A, answer, sizeof answer) < 0,
        "res_querydomain");
}
CALL blocking_res_nquery() {
  open_gate();
  check(res_nquery(&resolver, "localhost", C_IN, T_A, answer, sizeof answer) < 0, "res_nquery");
}
CALL blocking_res_nsearch() {
  open_gate();
  check(res_nsearch(&resolver, "localhost", C_IN, T_A, answer, sizeof answer) < 0, "res_nsearch");
}
CALL blocking_res_nquerydomain() {
  open_gate();
  check(res_nquerydomain(&resolver, "localhost", "invalid", C_IN, T_A, answer, sizeof answer) < 0,
        "res_nquerydomain");
}
// Numeric hosts cannot block.
CALL nonblocking_getaddrinfo_numerichost() {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  check(getaddrinfo("127.0.0.1", "80", &hints, &res) == 0, "getaddrinfo");
  freeaddrinfo(res);
}
CALL nonblocking_getaddrinfo_literal() {
  addrinfo* res = nullptr;
  check(getaddrinfo("127.0.0.1", nullptr, nullptr, &res) == 0, "getaddrinfo");
  freeaddrinfo(res);
}
CALL nonblocking_gethostbyname() {
  check_host(gethostbyname("127.0.0.1"), "gethostbyname");
}
CALL nonblocking_gethostbyname2() {
  check_host(gethostbyname2("127.0.0.1", AF_INET), "gethostbyname2");
}
CALL nonblocking_gethostbyname_r() {
  hostent h{}, *res = nullptr;
  int err = 0;
  gethostbyname_r("127.0.0.1", &h, buf, sizeof buf, &res, &err);
  check_host(res, "gethostbyname_r");
}
CALL nonblocking_gethostbyname2_r() {
  hostent h{}, *res = nullptr;
  int err = 0;
  gethostbyname2_r("127.0.0.1", AF_INET, &h, buf, sizeof buf, &res, &err);
  check_host(res, "gethostbyname2_r");
}
CALL nonblocking_getnameinfo() {
  sockaddr_in a = loopback_80();
  char host[256], serv[64];
  check(getnameinfo(reinterpret_cast<sockaddr*>(&a), sizeof a, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0,
        "getnameinfo");
}

// --- Flushing to storage
CALL blocking_fsync() {
  open_gate();
  check(fsync(file_fd) == 0, "fsync");
}
CALL blocking_fdatasync() {
  open_gate();
  check(fdatasync(file_fd) == 0, "fdatasync");
}
CALL blocking_sync() {
  open_gate();
  sync();
  sink = 1;
}
CALL blocking_syncfs() {
  open_gate();
  check(syncfs(file_fd) == 0, "syncfs");
}
CALL blocking_sync_file_range() {
  open_gate();
  check(sync_file_range(
            file_fd, 0, 0,
            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) == 0,
        "sync_file_range");
}
CALL blocking_msync() {
  open_gate();
  check(msync(mapping, 4096, MS_SYNC) == 0, "msync");
}
CALL nonblocking_sync_file_range() {
  check(sync_file_range(file_fd, 0, 0, SYNC_FILE_RANGE_WRITE) == 0, "sync_file_range");
}
CALL nonblocking_msync() {
  check(msync(mapping, 4096, MS_ASYNC) == 0, "msync");
}

// --- Processes
CALL blocking_wait() {
  open_gate();
  int status = 0;
  pid_t got = wait(&status);
  check_child_status(got, status, "wait");
}
CALL blocking_waitpid() {
  open_gate();
  int status = 0;
  pid_t got = waitpid(child_pid, &status, 0);
  check_child_status(got, status, "waitpid");
}
CALL blocking_waitid() {
  open_gate();
  siginfo_t info{};
  check(waitid(P_PID, static_cast<id_t>(child_pid), &info, WEXITED) == 0 &&
            info.si_pid == child_pid && info.si_status == 7,
        "waitid");
}
CALL blocking_wait3() {
  open_gate();
  int status = 0;
  rusage ru{};
  pid_t got = wait3(&status, 0, &ru);
  check_child_status(got, status, "wait3");
}
CALL blocking_wait4() {
  open_gate();
  int status = 0;
  rusage ru{};
  pid_t got = wait4(child_pid, &status, 0, &ru);
  check_child_status(got, status, "wait4");
}
CALL blocking_system() {
  open_gate();
  check(system("sleep 0.05") == 0, "system");
}
CALL blocking_pclose() {
  FILE* f = popen("sleep 0.05", "r");
  check(f != nullptr, "popen");
  open_gate();
  check(pclose(f) == 0, "pclose");
}
CALL nonblocking_waitpid() {
  int status = 0;
  check(waitpid(child_pid, &status, WNOHANG) == 0, "waitpid");
}
CALL nonblocking_waitid() {
  siginfo_t info{};
  check(waitid(P_PID, static_cast<id_t>(child_pid), &info, WEXITED | WNOHANG) == 0 &&
            info.si_pid == 0,
        "waitid");
}
CALL nonblocking_wait3() {
  int status = 0;
  rusage ru{};
  check(wait3(&status, WNOHANG, &ru) == 0, "wait3");
}
CALL nonblocking_wait4() {
  int status = 0;
  rusage ru{};
  check(wait4(child_pid, &status, WNOHANG, &ru) == 0, "wait4");
}

// --- Joins
CALL blocking_pthread_join() {
  open_gate();
  check(pthread_join(thread, nullptr) == 0, "pthread_join");
}
CALL blocking_pthread_join_std() {
  open_gate();
  std_thread.join();
  check(!std_thread.joinable(), "std::thread::join");
}
CALL blocking_pthread_timedjoin_np() {
  open_gate();
  timespec t = deadline_in(CLOCK_REALTIME, 5000);
  check(pthread_timedjoin_np(thread, nullptr, &t) == 0, "pthread_timedjoin_np");
}
CALL blocking_pthread_clockjoin_np() {
  open_gate();
  timespec t = deadline_in(CLOCK_MONOTONIC, 5000);
  check(pthread_clockjoin_np(thread, nullptr, CLOCK_MONOTONIC, &t) == 0, "pthread_clockjoin_np");
}
CALL nonblocking_pthread_join() {
  check(pthread_join(thread, nullptr) == 0, "pthread_join");
}
CALL nonblocking_pthread_timedjoin_np() {
  timespec t = deadline_in(CLOCK_REALTIME, 5000);
  check(pthread_timedjoin_np(thread, nullptr, &t) == 0, "pthread_timedjoin_np");
}
CALL nonblocking_pthread_clockjoin_np() {
  timespec t = deadline_in(CLOCK_MONOTONIC, 5000);
  check(pthread_clockjoin_np(thread, nullptr, CLOCK_MONOTONIC, &t) == 0, "pthread_clockjoin_np");
}

// --- Sockets. The same functions serve the blocking rows (the peer acts after kPeerMs) and
// the non-blocking rows (O_NONBLOCK: EAGAIN at once), through these two.
namespace {
bool expect_block = true;
void check_io(ssize_t n, ssize_t expected, const char* what) {
  if (expect_block) {
    check(n == expected, what);
  } else {
    check(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), what);
  }
}
}  // namespace

CALL blocking_connect() {
  open_gate();
  int r = connect(fds[1], reinterpret_cast<sockaddr*>(&listen_address), listen_address_len);
  check_io(r, 0, "connect");
}
CALL blocking_accept() {
  open_gate();
  int c = accept(fds[0], nullptr, nullptr);
  check_io(c < 0 ? -1 : 0, 0, "accept");
}
CALL blocking_accept4() {
  open_gate();
  int c = accept4(fds[0], nullptr, nullptr, SOCK_CLOEXEC);
  check_io(c < 0 ? -1 : 0, 0, "accept4");
}
CALL blocking_recv() {
  open_gate();
  check_io(recv(fds[0], buf, 1, 0), 1, "recv");
}
CALL blocking_recvfrom() {
  open_gate();
  check_io(recvfrom(fds[0], buf, 1, 0, nullptr, nullptr), 1, "recvfrom");
}
CALL blocking_recvmsg() {
  open_gate();
  iovec iov{buf, 1};
  msghdr m = one_byte_msg(&iov);
  check_io(recvmsg(fds[0], &m, 0), 1, "recvmsg");
}
CALL blocking_recvmmsg() {
  open_gate();
  iovec iov{buf, 1};
  mmsghdr m{};
  m.msg_hdr = one_byte_msg(&iov);
  check_io(recvmmsg(fds[0], &m, 1, 0, nullptr), 1, "recvmmsg");
}
CALL blocking_send() {
  open_gate();
  check_io(send(fds[0], "Z", 1, 0), 1, "send");
}
CALL blocking_sendto() {
  open_gate();
  check_io(sendto(fds[0], "Z", 1, 0, nullptr, 0), 1, "sendto");
}
CALL blocking_sendmsg() {
  open_gate();
  iovec iov{const_cast<char*>("Z"), 1};
  msghdr m = one_byte_msg(&iov);
  check_io(sendmsg(fds[0], &m, 0), 1, "sendmsg");
}
CALL blocking_sendmmsg() {
  open_gate();
  iovec iov{const_cast<char*>("Z"), 1};
  mmsghdr m{};
  m.msg_hdr = one_byte_msg(&iov);
  check_io(sendmmsg(fds[0], &m, 1, 0), 1, "sendmmsg");
}
CALL blocking_read_socket() {
  open_gate();
  check_io(read(fds[0], buf, 1), 1, "read");
}
CALL blocking_readv_socket() {
  open_gate();
  iovec iov{buf, 1};
  check_io(readv(fds[0], &iov, 1), 1, "readv");
}
CALL blocking_write_socket() {
  open_gate();
  check_io(write(fds[0], "Z", 1), 1, "write");
}
CALL blocking_writev_socket() {
  open_gate();
  iovec iov{const_cast<char*>("Z"), 1};
  check_io(writev(fds[0], &iov, 1), 1, "writev");
}
// MSG_DONTWAIT on a blocking socket: EAGAIN at once.
CALL nonblocking_recv_dontwait() {
  check_io(recv(fds[0], buf, 1, MSG_DONTWAIT), 1, "recv");
}
CALL nonblocking_recvfrom_dontwait() {
  check_io(recvfrom(fds[0], buf, 1, MSG_DONTWAIT, nullptr, nullptr), 1, "recvfrom");
}
CALL nonblocking_recvmsg_dontwait() {
  iovec iov{buf, 1};
  msghdr m = one_byte_msg(&iov);
  check_io(recvmsg(fds[0], &m, MSG_DONTWAIT), 1, "recvmsg");
}
CALL nonblocking_recvmmsg_dontwait() {
  iovec iov{buf, 1};
  mmsghdr m{};
  m.msg_hdr = one_byte_msg(&iov);
  check_io(recvmmsg(fds[0], &m, 1, MSG_DONTWAIT, nullptr), 1, "recvmmsg");
}
CALL nonblocking_send_dontwait() {
  check_io(send(fds[0], "Z", 1, MSG_DONTWAIT), 1, "send");
}
CALL nonblocking_sendto_dontwait() {
  check_io(sendto(fds[0], "Z", 1, MSG_DONTWAIT, nullptr, 0), 1, "sendto");
}
CALL nonblocking_sendmsg_dontwait() {
  iovec iov{const_cast<char*>("Z"), 1};
  msghdr m = one_byte_msg(&iov);
  check_io(sendmsg(fds[0], &m, MSG_DONTWAIT), 1, "sendmsg");
}
CALL nonblocking_sendmmsg_dontwait() {
  iovec iov{const_cast<char*>("Z"), 1};
  mmsghdr m{};
  m.msg_hdr = one_byte_msg(&iov);
  check_io(sendmmsg(fds[0], &m, 1, MSG_DONTWAIT) < 0 ? -1 : 1, 1, "sendmmsg");
}

// --- Other descriptors: pipes, FIFOs, terminals (O_NONBLOCK twins share these functions),
// and regular files through a faulting page.
CALL blocking_read() {
  open_gate();
  check_io(read(fds[0], buf, 1), 1, "read");
}
CALL blocking_read_fifo() {
  open_gate();
  check_io(read(fds[0], buf, 1), 1, "read");
}
CALL blocking_read_tty() {
  open_gate();
  check_io(read(fds[0], buf, 1), 1, "read");
}
CALL blocking_readv() {
  open_gate();
  iovec iov{buf, 1};
  check_io(readv(fds[0], &iov, 1), 1, "readv");
}
CALL blocking_write() {
  open_gate();
  check_io(write(fds[1], "Z", 1), 1, "write");
}
CALL blocking_writev() {
  open_gate();
  iovec iov{const_cast<char*>("Z"), 1};
  check_io(writev(fds[1], &iov, 1), 1, "writev");
}
CALL blocking_read_file() {
  open_gate();
  check(read(file_fd, page, 16) == 16, "read");
}
CALL blocking_write_file() {
  open_gate();
  check(write(file_fd, page, 16) == 16, "write");
}
CALL blocking_pread() {
  open_gate();
  check(pread(file_fd, page, 16, 0) == 16, "pread");
}
CALL blocking_pread64() {
  open_gate();
  check(pread64(file_fd, page, 16, 0) == 16, "pread64");
}
CALL blocking_preadv() {
  open_gate();
  iovec iov{page, 16};
  check(preadv(file_fd, &iov, 1, 0) == 16, "preadv");
}
CALL blocking_preadv64() {
  open_gate();
  iovec iov{page, 16};
  check(preadv64(file_fd, &iov, 1, 0) == 16, "preadv64");
}
CALL blocking_preadv2() {
  open_gate();
  iovec iov{page, 16};
  check(preadv2(file_fd, &iov, 1, 0, 0) == 16, "preadv2");
}
CALL blocking_pwrite() {
  open_gate();
  check(pwrite(file_fd, page, 16, 0) == 16, "pwrite");
}
CALL blocking_pwrite64() {
  open_gate();
  check(pwrite64(file_fd, page, 16, 0) == 16, "pwrite64");
}
CALL blocking_pwritev() {
  open_gate();
  iovec iov{page, 16};
  check(pwritev(file_fd, &iov, 1, 0) == 16, "pwritev");
}
CALL blocking_pwritev2() {
  open_gate();
  iovec iov{page, 16};
  check(pwritev2(file_fd, &iov, 1, 0, 0) == 16, "pwritev2");
}
// One byte ('Z') of a file into a full pipe.
CALL blocking_sendfile() {
  open_gate();
  off_t off = 0;
  check_io(sendfile(fds[1], file_fd, &off, 1), 1, "sendfile");
}
CALL blocking_sendfile64() {
  open_gate();
  off64_t off = 0;
  check_io(sendfile64(fds[1], file_fd, &off, 1), 1, "sendfile64");
}
CALL blocking_splice() {
  open_gate();
  check_io(splice(fds[0], nullptr, fds[3], nullptr, 1, 0), 1, "splice");
}
CALL blocking_copy_file_range() {
  open_gate();
  loff_t in = 0, out = 100;
  check(copy_file_range(fds[0], &in, fds[1], &out, 16, 0) == 16, "copy_file_range");
}
// Calls that return at once on blocking descriptors: below block_threshold_ms.
CALL nonblocking_read_ready() {
  check(read(fds[0], buf, 1) == 1, "read");
}
CALL nonblocking_read_file() {
  check(read(file_fd, buf, 16) == 16, "read");
}
CALL nonblocking_write_file() {
  check(write(file_fd, buf, 16) == 16, "write");
}
CALL nonblocking_pread() {
  check(pread(file_fd, buf, 16, 0) == 16, "pread");
}
CALL nonblocking_pread64() {
  check(pread64(file_fd, buf, 16, 0) == 16, "pread64");
}
CALL nonblocking_preadv() {
  iovec iov{buf, 16};
  check(preadv(file_fd, &iov, 1, 0) == 16, "preadv");
}
CALL nonblocking_preadv64() {
  iovec iov{buf, 16};
  check(preadv64(file_fd, &iov, 1, 0) == 16, "preadv64");
}
CALL nonblocking_preadv2() {
  iovec iov{buf, 16};
  check(preadv2(file_fd, &iov, 1, 0, 0) == 16, "preadv2");
}
CALL nonblocking_pwrite() {
  check(pwrite(file_fd, buf, 16, 0) == 16, "pwrite");
}
CALL nonblocking_pwrite64() {
  check(pwrite64(file_fd, buf, 16, 0) == 16, "pwrite64");
}
CALL nonblocking_pwritev() {
  iovec iov{buf, 16};
  check(pwritev(file_fd, &iov, 1, 0) == 16, "pwritev");
}
CALL nonblocking_pwritev2() {
  iovec iov{buf, 16};
  check(pwritev2(file_fd, &iov, 1, 0, 0) == 16, "pwritev2");
}
CALL nonblocking_splice() {
  check_io(splice(fds[0], nullptr, fds[3], nullptr, 1, SPLICE_F_NONBLOCK), 1, "splice");
}
CALL nonblocking_copy_file_range() {
  loff_t in = 0, out = 100;
  check(copy_file_range(fds[0], &in, fds[1], &out, 16, 0) == 16, "copy_file_range");
}

// --- Nested waits on the loop thread (its own wait is epoll_wait on another set)
CALL blocking_poll() {
  open_gate();
  pollfd p{fds[0], POLLIN, 0};
  check(poll(&p, 1, 5000) == 1, "poll");
}
CALL blocking_poll_infinite() {
  open_gate();
  pollfd p{fds[0], POLLIN, 0};
  check(poll(&p, 1, -1) == 1, "poll");
}
CALL blocking_ppoll() {
  open_gate();
  pollfd p{fds[0], POLLIN, 0};
  timespec t{5, 0};
  check(ppoll(&p, 1, &t, nullptr) == 1, "ppoll");
}
CALL blocking_select() {
  open_gate();
  fd_set set;
  FD_ZERO(&set);
  FD_SET(fds[0], &set);
  timeval t{5, 0};
  check(select(fds[0] + 1, &set, nullptr, nullptr, &t) == 1, "select");
}
CALL blocking_select_infinite() {
  open_gate();
  fd_set set;
  FD_ZERO(&set);
  FD_SET(fds[0], &set);
  check(select(fds[0] + 1, &set, nullptr, nullptr, nullptr) == 1, "select");
}
CALL blocking_pselect() {
  open_gate();
  fd_set set;
  FD_ZERO(&set);
  FD_SET(fds[0], &set);
  timespec t{5, 0};
  check(pselect(fds[0] + 1, &set, nullptr, nullptr, &t, nullptr) == 1, "pselect");
}
CALL blocking_epoll_wait() {
  open_gate();
  epoll_event ev{};
  check(epoll_wait(second_epoll, &ev, 1, 5000) == 1, "epoll_wait");
}
CALL blocking_epoll_wait_infinite() {
  open_gate();
  epoll_event ev{};
  check(epoll_wait(second_epoll, &ev, 1, -1) == 1, "epoll_wait");
}
CALL blocking_epoll_pwait() {
  open_gate();
  epoll_event ev{};
  check(epoll_pwait(second_epoll, &ev, 1, 5000, nullptr) == 1, "epoll_pwait");
}
CALL blocking_epoll_pwait2() {
  open_gate();
  epoll_event ev{};
  timespec t{5, 0};
  check(epoll_pwait2(second_epoll, &ev, 1, &t, nullptr) == 1, "epoll_pwait2");
}
CALL nonblocking_poll() {
  pollfd p{fds[0], POLLIN, 0};
  check(poll(&p, 1, 0) == 0, "poll");
}
CALL nonblocking_ppoll() {
  pollfd p{fds[0], POLLIN, 0};
  timespec t{0, 0};
  check(ppoll(&p, 1, &t, nullptr) == 0, "ppoll");
}
CALL nonblocking_select() {
  fd_set set;
  FD_ZERO(&set);
  FD_SET(fds[0], &set);
  timeval t{0, 0};
  check(select(fds[0] + 1, &set, nullptr, nullptr, &t) == 0, "select");
}
CALL nonblocking_pselect() {
  fd_set set;
  FD_ZERO(&set);
  FD_SET(fds[0], &set);
  timespec t{0, 0};
  check(pselect(fds[0] + 1, &set, nullptr, nullptr, &t, nullptr) == 0, "pselect");
}
CALL nonblocking_epoll_wait() {
  epoll_event ev{};
  check(epoll_wait(second_epoll, &ev, 1, 0) == 0, "epoll_wait");
}
CALL nonblocking_epoll_pwait() {
  epoll_event ev{};
  check(epoll_pwait(second_epoll, &ev, 1, 0, nullptr) == 0, "epoll_pwait");
}
CALL nonblocking_epoll_pwait2() {
  epoll_event ev{};
  timespec t{0, 0};
  check(epoll_pwait2(second_epoll, &ev, 1, &t, nullptr) == 0, "epoll_pwait2");
}

// --- Locks and waits (the twins: uncontended, or a deadline already past)
CALL blocking_pthread_mutex_lock() {
  open_gate();
  check(pthread_mutex_lock(&mutex) == 0, "pthread_mutex_lock");
  pthread_mutex_unlock(&mutex);
}
CALL blocking_pthread_mutex_lock_std() {
  open_gate();
  std_mutex.lock();
  std_mutex.unlock();
}
CALL blocking_pthread_mutex_timedlock() {
  open_gate();
  timespec t = deadline_in(CLOCK_REALTIME, 5000);
  check(pthread_mutex_timedlock(&mutex, &t) == 0, "pthread_mutex_timedlock");
  pthread_mutex_unlock(&mutex);
}
CALL blocking_pthread_mutex_clocklock() {
  open_gate();
  timespec t = deadline_in(CLOCK_MONOTONIC, 5000);
  check(pthread_mutex_clocklock(&mutex, CLOCK_MONOTONIC, &t) == 0, "pthread_mutex_clocklock");
  pthread_mutex_unlock(&mutex);
}
CALL blocking_pthread_rwlock_rdlock() {
  open_gate();
  check(pthread_rwlock_rdlock(&rwlock) == 0, "pthread_rwlock_rdlock");
  pthread_rwlock_unlock(&rwlock);
}
CALL blocking_pthread_rwlock_rdlock_std() {
  open_gate();
  std_shared_mutex.lock_shared();
  std_shared_mutex.unlock_shared();
}
CALL blocking_pthread_rwlock_wrlock() {
  open_gate();
  check(pthread_rwlock_wrlock(&rwlock) == 0, "pthread_rwlock_wrlock");
  pthread_rwlock_unlock(&rwlock);
}
CALL blocking_pthread_rwlock_timedrdlock() {
  open_gate();
  timespec t = deadline_in(CLOCK_REALTIME, 5000);
  check(pthread_rwlock_timedrdlock(&rwlock, &t) == 0, "pthread_rwlock_timedrdlock");
  pthread_rwlock_unlock(&rwlock);
}
CALL blocking_pthread_rwlock_timedwrlock() {
  open_gate();
  timespec t = deadline_in(CLOCK_REALTIME, 5000);
  check(pthread_rwlock_timedwrlock(&rwlock, &t) == 0, "pthread_rwlock_timedwrlock");
  pthread_rwlock_unlock(&rwlock);
}
CALL blocking_pthread_rwlock_clockrdlock() {
  open_gate();
  timespec t = deadline_in(CLOCK_MONOTONIC, 5000);
  check(pthread_rwlock_clockrdlock(&rwlock, CLOCK_MONOTONIC, &t) == 0,
        "pthread_rwlock_clockrdlock");
  pthread_rwlock_unlock(&rwlock);
}
CALL blocking_pthread_rwlock_clockwrlock() {
  open_gate();
  timespec t = deadline_in(CLOCK_MONOTONIC, 5000);
  check(pthread_rwlock_clockwrlock(&rwlock, CLOCK_MONOTONIC, &t) == 0,
        "pthread_rwlock_clockwrlock");
  pthread_rwlock_unlock(&rwlock);
}
// Condition waits: the mutex is free, the wait is for the signal.
CALL blocking_pthread_cond_wait() {
  pthread_mutex_lock(&mutex);
  open_gate();
  while (!cond_flag) check(pthread_cond_wait(&cond, &mutex) == 0, "pthread_cond_wait");
  pthread_mutex_unlock(&mutex);
}
CALL blocking_pthread_cond_wait_compat() {
  pthread_mutex_lock(&mutex);
  open_gate();
  while (!cond_flag) {
    check(compat_pthread_cond_wait(&compat_cond, &mutex) == 0, "pthread_cond_wait@GLIBC_2.2.5");
  }
  pthread_mutex_unlock(&mutex);
}
CALL blocking_pthread_cond_wait_std() {
  std::unique_lock<std::mutex> lock(std_mutex);
  open_gate();
  std_cond.wait(lock, [] { return cond_flag; });
}
CALL blocking_pthread_cond_timedwait() {
  pthread_mutex_lock(&mutex);
  timespec t = deadline_in(CLOCK_REALTIME, 5000);
  open_gate();
  while (!cond_flag) {
    check(pthread_cond_timedwait(&cond, &mutex, &t) == 0, "pthread_cond_timedwait");
  }
  pthread_mutex_unlock(&mutex);
}
CALL blocking_pthread_cond_timedwait_compat() {
  pthread_mutex_lock(&mutex);
  timespec t = deadline_in(CLOCK_REALTIME, 5000);
  open_gate();
  while (!cond_flag) {
    check(compat_pthread_cond_timedwait(&compat_cond, &mutex, &t) == 0,
          "pthread_cond_timedwait@GLIBC_2.2.5");
  }
  pthread_mutex_unlock(&mutex);
}
CALL blocking_pthread_cond_clockwait() {
  pthread_mutex_lock(&mutex);
  timespec t = deadline_in(CLOCK_MONOTONIC, 5000);
  open_gate();
  while (!cond_flag) {
    check(pthread_cond_clockwait(&cond, &mutex, CLOCK_MONOTONIC, &t) == 0,
          "pthread_cond_clockwait");
  }
  pthread_mutex_unlock(&mutex);
}
CALL blocking_pthread_cond_clockwait_std() {
  std::unique_lock<std::mutex> lock(std_mutex);
  open_gate();
  // libstdc++ waits on the steady clock with pthread_cond_clockwait.
  check(std_cond.wait_for(lock, std::chrono::seconds(5), [] { return cond_flag; }),
        "condition_variable::wait_for");
}
CALL blocking_sem_wait() {
  open_gate();
  check(sem_wait(&sem) == 0, "sem_wait");
}
CALL blocking_sem_timedwait() {
  open_gate();
  timespec t = deadline_in(CLOCK_REALTIME, 5000);
  check(sem_timedwait(&sem, &t) == 0, "sem_timedwait");
}
CALL blocking_sem_clockwait() {
  open_gate();
  timespec t = deadline_in(CLOCK_MONOTONIC, 5000);
  check(sem_clockwait(&sem, CLOCK_MONOTONIC, &t) == 0, "sem_clockwait");
}
CALL blocking_flock() {
  open_gate();
  check(flock(fds[0], LOCK_EX) == 0, "flock");
}
CALL blocking_lockf() {
  open_gate();
  check(lockf(fds[0], F_LOCK, 0) == 0, "lockf");
}
CALL blocking_fcntl() {
  open_gate();
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  check(fcntl(fds[0], F_SETLKW, &fl) == 0, "fcntl(F_SETLKW)");
}
CALL blocking_fcntl_ofd() {
  open_gate();
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  check(fcntl(fds[0], F_OFD_SETLKW, &fl) == 0, "fcntl(F_OFD_SETLKW)");
}
// Futex waits, through the C++ library and directly.
CALL blocking_futex() {
  open_gate();
  check(future.get() == 1, "std::future::get");
}
CALL blocking_futex_future_wait() {
  open_gate();
  future.wait();
  check(future.valid(), "std::future::wait");
}
CALL blocking_futex_future_wait_for() {
  open_gate();
  check(future.wait_for(std::chrono::seconds(5)) == std::future_status::ready,
        "std::future::wait_for");
}
CALL blocking_futex_atomic_wait() {
  open_gate();
  atomic_word.wait(0);
  check(atomic_word.load() == 1, "std::atomic::wait");
}
CALL blocking_futex_semaphore() {
  open_gate();
  counting.acquire();
  sink = 1;
}
CALL blocking_futex_latch() {
  open_gate();
  latch.wait();
  check(latch.try_wait(), "std::latch::wait");
}
CALL blocking_futex_raw() {
  open_gate();
  while (__atomic_load_n(&futex_word, __ATOMIC_SEQ_CST) == 0) {
    check(futex(&futex_word, FUTEX_WAIT_PRIVATE, 0, nullptr) == 0 || errno == EAGAIN ||
              errno == EINTR,
          "futex");
  }
}
CALL nonblocking_pthread_mutex_lock() {
  check(pthread_mutex_lock(&mutex) == 0, "pthread_mutex_lock");
  pthread_mutex_unlock(&mutex);
}
CALL nonblocking_pthread_mutex_timedlock() {
  timespec t = deadline_in(CLOCK_REALTIME, 5000);
  check(pthread_mutex_timedlock(&mutex, &t) == 0, "pthread_mutex_timedlock");
  pthread_mutex_unlock(&mutex);
}
CALL nonblocking_pthread_mutex_clocklock() {
  timespec t = deadline_in(CLOCK_MONOTONIC, 5000);
  check(pthread_mutex_clocklock(&mutex, CLOCK_MONOTONIC, &t) == 0, "pthread_mutex_clocklock");
  pthread_mutex_unlock(&mutex);
}
// A reader does not wait for another reader.
CALL nonblocking_pthread_rwlock_rdlock() {
  check(pthread_rwlock_rdlock(&rwlock) == 0, "pthread_rwlock_rdlock");
  pthread_rwlock_unlock(&rwlock);
}
CALL nonblocking_pthread_rwlock_timedrdlock() {
  timespec t = deadline_in(CLOCK_REALTIME, 5000);
  check(pthread_rwlock_timedrdlock(&rwlock, &t) == 0, "pthread_rwlock_timedrdlock");
  pthread_rwlock_unlock(&rwlock);
}
CALL nonblocking_pthread_rwlock_clockrdlock() {
  timespec t = deadline_in(CLOCK_MONOTONIC, 5000);
  check(pthread_rwlock_clockrdlock(&rwlock, CLOCK_MONOTONIC, &t) == 0,
        "pthread_rwlock_clockrdlock");
  pthread_rwlock_unlock(&rwlock);
}
CALL nonblocking_pthread_rwlock_wrlock() {
  check(pthread_rwlock_wrlock(&rwlock) == 0, "pthread_rwlock_wrlock");
  pthread_rwlock_unlock(&rwlock);
}
CALL nonblocking_pthread_rwlock_timedwrlock() {
  timespec t = deadline_in(CLOCK_REALTIME, 5000);
  check(pthread_rwlock_timedwrlock(&rwlock, &t) == 0, "pthread_rwlock_timedwrlock");
  pthread_rwlock_unlock(&rwlock);
}
CALL nonblocking_pthread_rwlock_clockwrlock() {
  timespec t = deadline_in(CLOCK_MONOTONIC, 5000);
  check(pthread_rwlock_clockwrlock(&rwlock, CLOCK_MONOTONIC, &t) == 0,
        "pthread_rwlock_clockwrlock");
  pthread_rwlock_unlock(&rwlock);
}
CALL nonblocking_pthread_cond_timedwait() {
  pthread_mutex_lock(&mutex);
  timespec t = deadline_in(CLOCK_REALTIME, 0);  // already past when the wait starts
  check(pthread_cond_timedwait(&cond, &mutex, &t) == ETIMEDOUT, "pthread_cond_timedwait");
  pthread_mutex_unlock(&mutex);
}
CALL nonblocking_pthread_cond_clockwait() {
  pthread_mutex_lock(&mutex);
  timespec t = deadline_in(CLOCK_MONOTONIC, 0);
  check(pthread_cond_clockwait(&cond, &mutex, CLOCK_MONOTONIC, &t) == ETIMEDOUT,
        "pthread_cond_clockwait");
  pthread_mutex_unlock(&mutex);
}
CALL nonblocking_sem_wait() {
  check(sem_wait(&sem) == 0, "sem_wait");
}
CALL nonblocking_sem_timedwait() {
  timespec t = deadline_in(CLOCK_REALTIME, 5000);
  check(sem_timedwait(&sem, &t) == 0, "sem_timedwait");
}
CALL nonblocking_sem_clockwait() {
  timespec t = deadline_in(CLOCK_MONOTONIC, 5000);
  check(sem_clockwait(&sem, CLOCK_MONOTONIC, &t) == 0, "sem_clockwait");
}
CALL nonblocking_flock() {
  check(flock(fds[0], LOCK_EX) == 0, "flock");
}
CALL nonblocking_lockf() {
  check(lockf(fds[0], F_LOCK, 0) == 0, "lockf");
}
CALL nonblocking_fcntl() {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  check(fcntl(fds[0], F_SETLKW, &fl) == 0, "fcntl(F_SETLKW)");
}
CALL nonblocking_fcntl_ofd() {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  check(fcntl(fds[0], F_OFD_SETLKW, &fl) == 0, "fcntl(F_OFD_SETLKW)");
}
CALL nonblocking_futex() {
  check(future.get() == 1, "std::future::get");  // already set
}
CALL nonblocking_futex_raw() {
  // The word is not the expected value: the kernel returns EAGAIN at once.
  check(futex(&futex_word, FUTEX_WAIT_PRIVATE, 1, nullptr) == -1 && errno == EAGAIN, "futex");
}

// --- Symbols outside the contract's list that reach the same kernel calls: the large-file
// (64) aliases, the _FORTIFY_SOURCE entry points, libresolv's pre-2.34 name.
CALL blocking_fcntl64() {
  open_gate();
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  check(fcntl64(fds[0], F_SETLKW, &fl) == 0, "fcntl64(F_SETLKW)");
}
CALL blocking_lockf64() {
  open_gate();
  check(lockf64(fds[0], F_LOCK, 0) == 0, "lockf64");
}
CALL blocking_preadv64v2() {
  open_gate();
  iovec iov{page, 16};
  check(preadv64v2(file_fd, &iov, 1, 0, 0) == 16, "preadv64v2");
}
CALL blocking_pwritev64() {
  open_gate();
  iovec iov{page, 16};
  check(pwritev64(file_fd, &iov, 1, 0) == 16, "pwritev64");
}
CALL blocking_pwritev64v2() {
  open_gate();
  iovec iov{page, 16};
  check(pwritev64v2(file_fd, &iov, 1, 0, 0) == 16, "pwritev64v2");
}
CALL blocking___read_chk() {
  open_gate();
  check(fortified_read(fds[0], buf, 1, sizeof buf) == 1, "__read_chk");
}
CALL blocking___recv_chk() {
  open_gate();
  check(fortified_recv(fds[0], buf, 1, sizeof buf, 0) == 1, "__recv_chk");
}
CALL blocking___recvfrom_chk() {
  open_gate();
  check(fortified_recvfrom(fds[0], buf, 1, sizeof buf, 0, nullptr, nullptr) == 1, "__recvfrom_chk");
}
CALL blocking___pread_chk() {
  open_gate();
  check(fortified_pread(file_fd, page, 16, 0, 4096) == 16, "__pread_chk");
}
CALL blocking___pread64_chk() {
  open_gate();
  check(fortified_pread64(file_fd, page, 16, 0, 4096) == 16, "__pread64_chk");
}
CALL blocking___poll_chk() {
  open_gate();
  pollfd p{fds[0], POLLIN, 0};
  check(fortified_poll(&p, 1, 5000, sizeof p) == 1, "__poll_chk");
}
CALL blocking___ppoll_chk() {
  open_gate();
  pollfd p{fds[0], POLLIN, 0};
  timespec t{5, 0};
  check(fortified_ppoll(&p, 1, &t, nullptr, sizeof p) == 1, "__ppoll_chk");
}
CALL blocking___res_query() {
  open_gate();
  check(compat_res_query("localhost", C_IN, T_A, answer, sizeof answer) < 0, "__res_query");
}

#undef CALL

// =============================================================================================
// The tables
// =============================================================================================
namespace {

struct Row {
  const char* name;
  int min_wait_ms;  // how long the call must have waited (checked here, with or without loopsan)
  void (*setup)();  // before the loop
  void (*call)();   // from the loop's callback
};

void nothing() {}
void file_only() {
  file_fd = make_file("file");
}
void child_only() {
  child_exits_later();
}
void thread_later() {
  check(pthread_create(&thread, nullptr, returns_later, nullptr) == 0, "pthread_create");
}
void blocking_fifo(bool nonblocking) {
  std::string path = temp_path("fifo");
  check(mkfifo(path.c_str(), 0600) == 0, "mkfifo");
  fds[0] = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  fds[1] = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  check(fds[0] >= 0 && fds[1] >= 0, "open fifo");
  if (nonblocking) return;
  set_nonblocking(fds[0], false);
  int writer = fds[1];
  after_gate(kHoldMs, [writer] { check(write(writer, "x", 1) == 1, "fifo write"); });
}
void terminal(bool nonblocking) {
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) unsupported("posix_openpt");
  check(grantpt(master) == 0 && unlockpt(master) == 0, "grantpt");
  fds[0] = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0));
  check(fds[0] >= 0, "open pts");
  termios t{};
  check(tcgetattr(fds[0], &t) == 0, "tcgetattr");
  cfmakeraw(&t);
  check(tcsetattr(fds[0], TCSANOW, &t) == 0, "tcsetattr");
  fds[1] = master;
  if (!nonblocking) after_gate(kHoldMs, [master] { check(write(master, "x", 1) == 1, "pty"); });
}
// sendfile into a full pipe (fds[1]) from a file of 'Z'.
void sendfile_into_full_pipe(bool nonblocking) {
  pipe_full(nonblocking);
  file_fd = make_file("sendfile");
  check(pwrite(file_fd, "ZZZZ", 4, 0) == 4, "pwrite");
}
// splice from an empty pipe (fds[0], written kHoldMs after the gate) into another (fds[3]).
void splice_from_empty_pipe(bool nonblocking) {
  pipe_writer_later(nonblocking);
  int out[2];
  check(pipe2(out, O_CLOEXEC) == 0, "pipe2");
  fds[2] = out[0];
  fds[3] = out[1];
}

const Row kBlocking[] = {
    // Sleeps
    {"sleep", kPeerMs - 10, interrupt_sleep_later, blocking_sleep},
    {"usleep", kPeerMs - 10, nothing, blocking_usleep},
    {"nanosleep", kPeerMs - 10, nothing, blocking_nanosleep},
    {"clock_nanosleep", kPeerMs - 10, nothing, blocking_clock_nanosleep},
    {"clock_nanosleep.abs", kPeerMs - 10, nothing, blocking_clock_nanosleep_abs},
    // Name resolution: /etc/hosts for the NSS calls, a slow fake server for the resolver
    {"getaddrinfo", 0, nothing, blocking_getaddrinfo},
    {"gethostbyname", 0, nothing, blocking_gethostbyname},
    {"gethostbyname2", 0, nothing, blocking_gethostbyname2},
    {"gethostbyname_r", 0, nothing, blocking_gethostbyname_r},
    {"gethostbyname2_r", 0, nothing, blocking_gethostbyname2_r},
    {"gethostbyaddr", 0, nothing, blocking_gethostbyaddr},
    {"gethostbyaddr_r", 0, nothing, blocking_gethostbyaddr_r},
    {"getnameinfo", 0, nothing, blocking_getnameinfo},
    {"res_query", kPeerMs - 10, setup_res, blocking_res_query},
    {"res_search", kPeerMs - 10, setup_res, blocking_res_search},
    {"res_querydomain", kPeerMs - 10, setup_res, blocking_res_querydomain},
    {"res_nquery", kPeerMs - 10, setup_res_n, blocking_res_nquery},
    {"res_nsearch", kPeerMs - 10, setup_res_n, blocking_res_nsearch},
    {"res_nquerydomain", kPeerMs - 10, setup_res_n, blocking_res_nquerydomain},
    // Flushing to storage
    {"fsync", 0, file_only, blocking_fsync},
    {"fdatasync", 0, file_only, blocking_fdatasync},
    {"sync", 0, file_only, blocking_sync},
    {"syncfs", 0, file_only, blocking_syncfs},
    {"sync_file_range", 0, file_only, blocking_sync_file_range},
    {"msync", 0, dirty_mapping, blocking_msync},
    // Processes
    {"wait", kPeerMs - 10, child_only, blocking_wait},
    {"waitpid", kPeerMs - 10, child_only, blocking_waitpid},
    {"waitid", kPeerMs - 10, child_only, blocking_waitid},
    {"wait3", kPeerMs - 10, child_only, blocking_wait3},
    {"wait4", kPeerMs - 10, child_only, blocking_wait4},
    {"system", kPeerMs - 10, nothing, blocking_system},
    {"pclose", kPeerMs - 10, nothing, blocking_pclose},
    // Joins
    {"pthread_join", kPeerMs - 10, thread_later, blocking_pthread_join},
    {"pthread_join.std", kPeerMs - 10, [] { std_thread = std::thread(returns_later, nullptr); },
     blocking_pthread_join_std},
    {"pthread_timedjoin_np", kPeerMs - 10, thread_later, blocking_pthread_timedjoin_np},
    {"pthread_clockjoin_np", kPeerMs - 10, thread_later, blocking_pthread_clockjoin_np},
    // Sockets
    {"connect", kPeerMs - 10, [] { listener_full(false); }, blocking_connect},
    {"accept", kPeerMs - 10, [] { listener_client_later(false); }, blocking_accept},
    {"accept4", kPeerMs - 10, [] { listener_client_later(false); }, blocking_accept4},
    {"recv", kPeerMs - 10, [] { socket_peer_sends(SOCK_STREAM, false); }, blocking_recv},
    {"recvfrom", kPeerMs - 10, [] { socket_peer_sends(SOCK_DGRAM, false); }, blocking_recvfrom},
    {"recvmsg", kPeerMs - 10, [] { socket_peer_sends(SOCK_STREAM, false); }, blocking_recvmsg},
    {"recvmmsg", kPeerMs - 10, [] { socket_peer_sends(SOCK_DGRAM, false); }, blocking_recvmmsg},
    {"send", kPeerMs - 10, [] { socket_full(SOCK_STREAM, false); }, blocking_send},
    {"sendto", kPeerMs - 10, [] { socket_full(SOCK_DGRAM, false); }, blocking_sendto},
    {"sendmsg", kPeerMs - 10, [] { socket_full(SOCK_STREAM, false); }, blocking_sendmsg},
    {"sendmmsg", kPeerMs - 10, [] { socket_full(SOCK_DGRAM, false); }, blocking_sendmmsg},
    {"read.socket", kPeerMs - 10, [] { socket_peer_sends(SOCK_STREAM, false); },
     blocking_read_socket},
    {"readv.socket", kPeerMs - 10, [] { socket_peer_sends(SOCK_STREAM, false); },
     blocking_readv_socket},
    {"write.socket", kPeerMs - 10, [] { socket_full(SOCK_STREAM, false); }, blocking_write_socket},
    {"writev.socket", kPeerMs - 10, [] { socket_full(SOCK_STREAM, false); },
     blocking_writev_socket},
    // Other descriptors: reported when the call waited block_threshold_ms
    {"read", kHoldMs, [] { pipe_writer_later(false); }, blocking_read},
    {"read.fifo", kHoldMs, [] { blocking_fifo(false); }, blocking_read_fifo},
    {"read.tty", kHoldMs, [] { terminal(false); }, blocking_read_tty},
    {"read.file", kHoldMs, file_and_faulting_page, blocking_read_file},
    {"readv", kHoldMs, [] { pipe_writer_later(false); }, blocking_readv},
    {"write", kHoldMs, [] { pipe_full(false); }, blocking_write},
    {"write.file", kHoldMs, file_and_faulting_page, blocking_write_file},
    {"writev", kHoldMs, [] { pipe_full(false); }, blocking_writev},
    {"pread", kHoldMs, file_and_faulting_page, blocking_pread},
    {"pread64", kHoldMs, file_and_faulting_page, blocking_pread64},
    {"preadv", kHoldMs, file_and_faulting_page, blocking_preadv},
    {"preadv64", kHoldMs, file_and_faulting_page, blocking_preadv64},
    {"preadv2", kHoldMs, file_and_faulting_page, blocking_preadv2},
    {"pwrite", kHoldMs, file_and_faulting_page, blocking_pwrite},
    {"pwrite64", kHoldMs, file_and_faulting_page, blocking_pwrite64},
    {"pwritev", kHoldMs, file_and_faulting_page, blocking_pwritev},
    {"pwritev2", kHoldMs, file_and_faulting_page, blocking_pwritev2},
    {"sendfile", kHoldMs, [] { sendfile_into_full_pipe(false); }, blocking_sendfile},
    {"sendfile64", kHoldMs, [] { sendfile_into_full_pipe(false); }, blocking_sendfile64},
    {"splice", kHoldMs, [] { splice_from_empty_pipe(false); }, blocking_splice},
    {"copy_file_range", kHoldMs, destination_locked, blocking_copy_file_range},
    // Nested waits with a timeout on a set that is not the loop's own
    {"poll", kPeerMs - 10, [] { pipe_ready_later(false); }, blocking_poll},
    {"poll.infinite", kPeerMs - 10, [] { pipe_ready_later(false); }, blocking_poll_infinite},
    {"ppoll", kPeerMs - 10, [] { pipe_ready_later(false); }, blocking_ppoll},
    {"select", kPeerMs - 10, [] { pipe_ready_later(false); }, blocking_select},
    {"select.infinite", kPeerMs - 10, [] { pipe_ready_later(false); }, blocking_select_infinite},
    {"pselect", kPeerMs - 10, [] { pipe_ready_later(false); }, blocking_pselect},
    {"epoll_wait", kPeerMs - 10, [] { pipe_ready_later(true); }, blocking_epoll_wait},
    {"epoll_wait.infinite", kPeerMs - 10, [] { pipe_ready_later(true); },
     blocking_epoll_wait_infinite},
    {"epoll_pwait", kPeerMs - 10, [] { pipe_ready_later(true); }, blocking_epoll_pwait},
    {"epoll_pwait2", kPeerMs - 10, [] { pipe_ready_later(true); }, blocking_epoll_pwait2},
    // Locks and waits: reported when the call waited block_threshold_ms
    {"pthread_mutex_lock", kHoldMs, mutex_held, blocking_pthread_mutex_lock},
    {"pthread_mutex_lock.std", kHoldMs,
     [] { hold([] { std_mutex.lock(); }, [] { std_mutex.unlock(); }); },
     blocking_pthread_mutex_lock_std},
    {"pthread_mutex_timedlock", kHoldMs, mutex_held, blocking_pthread_mutex_timedlock},
    {"pthread_mutex_clocklock", kHoldMs, mutex_held, blocking_pthread_mutex_clocklock},
    {"pthread_rwlock_rdlock", kHoldMs, rwlock_held_for_writing, blocking_pthread_rwlock_rdlock},
    {"pthread_rwlock_rdlock.std", kHoldMs,
     [] { hold([] { std_shared_mutex.lock(); }, [] { std_shared_mutex.unlock(); }); },
     blocking_pthread_rwlock_rdlock_std},
    {"pthread_rwlock_wrlock", kHoldMs, rwlock_held_for_reading, blocking_pthread_rwlock_wrlock},
    {"pthread_rwlock_timedrdlock", kHoldMs, rwlock_held_for_writing,
     blocking_pthread_rwlock_timedrdlock},
    {"pthread_rwlock_timedwrlock", kHoldMs, rwlock_held_for_reading,
     blocking_pthread_rwlock_timedwrlock},
    {"pthread_rwlock_clockrdlock", kHoldMs, rwlock_held_for_writing,
     blocking_pthread_rwlock_clockrdlock},
    {"pthread_rwlock_clockwrlock", kHoldMs, rwlock_held_for_reading,
     blocking_pthread_rwlock_clockwrlock},
    {"pthread_cond_wait", kHoldMs, cond_signalled_later, blocking_pthread_cond_wait},
    {"pthread_cond_wait.compat", kHoldMs, compat_cond_signalled_later,
     blocking_pthread_cond_wait_compat},
    {"pthread_cond_wait.std", kHoldMs,
     [] {
       after_gate(kHoldMs, [] {
         std::lock_guard<std::mutex> lock(std_mutex);
         cond_flag = true;
         std_cond.notify_one();
       });
     },
     blocking_pthread_cond_wait_std},
    {"pthread_cond_timedwait", kHoldMs, cond_signalled_later, blocking_pthread_cond_timedwait},
    {"pthread_cond_timedwait.compat", kHoldMs, compat_cond_signalled_later,
     blocking_pthread_cond_timedwait_compat},
    {"pthread_cond_clockwait", kHoldMs, cond_signalled_later, blocking_pthread_cond_clockwait},
    {"pthread_cond_clockwait.std", kHoldMs,
     [] {
       after_gate(kHoldMs, [] {
         std::lock_guard<std::mutex> lock(std_mutex);
         cond_flag = true;
         std_cond.notify_one();
       });
     },
     blocking_pthread_cond_clockwait_std},
    {"sem_wait", kHoldMs, sem_posted_later, blocking_sem_wait},
    {"sem_timedwait", kHoldMs, sem_posted_later, blocking_sem_timedwait},
    {"sem_clockwait", kHoldMs, sem_posted_later, blocking_sem_clockwait},
    {"flock", kHoldMs, [] { file_locked("flock"); }, blocking_flock},
    {"lockf", kHoldMs, [] { file_locked("lockf"); }, blocking_lockf},
    {"fcntl", kHoldMs, [] { file_locked("fcntl"); }, blocking_fcntl},
    {"fcntl.ofd", kHoldMs, [] { file_locked("ofd"); }, blocking_fcntl_ofd},
    {"futex", kHoldMs, future_set_later, blocking_futex},
    {"futex.future_wait", kHoldMs, future_set_later, blocking_futex_future_wait},
    {"futex.future_wait_for", kHoldMs, future_set_later, blocking_futex_future_wait_for},
    {"futex.atomic_wait", kHoldMs,
     [] {
       after_gate(kHoldMs, [] {
         atomic_word.store(1);
         atomic_word.notify_one();
       });
     },
     blocking_futex_atomic_wait},
    {"futex.semaphore", kHoldMs, [] { after_gate(kHoldMs, [] { counting.release(); }); },
     blocking_futex_semaphore},
    {"futex.latch", kHoldMs, [] { after_gate(kHoldMs, [] { latch.count_down(); }); },
     blocking_futex_latch},
    {"futex.raw", kHoldMs,
     [] {
       after_gate(kHoldMs, [] {
         __atomic_store_n(&futex_word, 1, __ATOMIC_SEQ_CST);
         futex(&futex_word, FUTEX_WAKE_PRIVATE, 1, nullptr);
       });
     },
     blocking_futex_raw},
};

// The same calls where they cannot block, or did not wait block_threshold_ms.
void nonblocking_io() {
  expect_block = false;
}
const Row kNonblocking[] = {
    {"sleep", 0, nothing, nonblocking_sleep},
    {"usleep", 0, nothing, nonblocking_usleep},
    {"nanosleep", 0, nothing, nonblocking_nanosleep},
    {"clock_nanosleep", 0, nothing, nonblocking_clock_nanosleep},
    {"getaddrinfo.numerichost", 0, nothing, nonblocking_getaddrinfo_numerichost},
    {"getaddrinfo.literal", 0, nothing, nonblocking_getaddrinfo_literal},
    {"gethostbyname", 0, nothing, nonblocking_gethostbyname},
    {"gethostbyname2", 0, nothing, nonblocking_gethostbyname2},
    {"gethostbyname_r", 0, nothing, nonblocking_gethostbyname_r},
    {"gethostbyname2_r", 0, nothing, nonblocking_gethostbyname2_r},
    {"getnameinfo", 0, nothing, nonblocking_getnameinfo},
    {"sync_file_range", 0, file_only, nonblocking_sync_file_range},
    {"msync", 0, dirty_mapping, nonblocking_msync},
    {"waitpid", 0, child_only, nonblocking_waitpid},
    {"waitid", 0, child_only, nonblocking_waitid},
    {"wait3", 0, child_only, nonblocking_wait3},
    {"wait4", 0, child_only, nonblocking_wait4},
    {"pthread_join", 0, thread_finished, nonblocking_pthread_join},
    {"pthread_timedjoin_np", 0, thread_finished, nonblocking_pthread_timedjoin_np},
    {"pthread_clockjoin_np", 0, thread_finished, nonblocking_pthread_clockjoin_np},
    // O_NONBLOCK sockets
    {"connect", 0,
     [] {
       nonblocking_io();
       listener_full(true);
     },
     blocking_connect},
    {"accept", 0,
     [] {
       nonblocking_io();
       listener_client_later(true);
     },
     blocking_accept},
    {"accept4", 0,
     [] {
       nonblocking_io();
       listener_client_later(true);
     },
     blocking_accept4},
    {"recv", 0,
     [] {
       nonblocking_io();
       socket_peer_sends(SOCK_STREAM, true);
     },
     blocking_recv},
    {"recvfrom", 0,
     [] {
       nonblocking_io();
       socket_peer_sends(SOCK_DGRAM, true);
     },
     blocking_recvfrom},
    {"recvmsg", 0,
     [] {
       nonblocking_io();
       socket_peer_sends(SOCK_STREAM, true);
     },
     blocking_recvmsg},
    {"recvmmsg", 0,
     [] {
       nonblocking_io();
       socket_peer_sends(SOCK_DGRAM, true);
     },
     blocking_recvmmsg},
    {"send", 0,
     [] {
       nonblocking_io();
       socket_full(SOCK_STREAM, true);
     },
     blocking_send},
    {"sendto", 0,
     [] {
       nonblocking_io();
       socket_full(SOCK_DGRAM, true);
     },
     blocking_sendto},
    {"sendmsg", 0,
     [] {
       nonblocking_io();
       socket_full(SOCK_STREAM, true);
     },
     blocking_sendmsg},
    {"sendmmsg", 0,
     [] {
       nonblocking_io();
       socket_full(SOCK_DGRAM, true);
     },
     blocking_sendmmsg},
    {"read.socket", 0,
     [] {
       nonblocking_io();
       socket_peer_sends(SOCK_STREAM, true);
     },
     blocking_read_socket},
    {"readv.socket", 0,
     [] {
       nonblocking_io();
       socket_peer_sends(SOCK_STREAM, true);
     },
     blocking_readv_socket},
    {"write.socket", 0,
     [] {
       nonblocking_io();
       socket_full(SOCK_STREAM, true);
     },
     blocking_write_socket},
    {"writev.socket", 0,
     [] {
       nonblocking_io();
       socket_full(SOCK_STREAM, true);
     },
     blocking_writev_socket},
    // MSG_DONTWAIT on blocking sockets (the O_NONBLOCK flag is cleared after the setup)
    {"recv.dontwait", 0,
     [] {
       nonblocking_io();
       socket_peer_sends(SOCK_STREAM, true);
       set_nonblocking(fds[0], false);
     },
     nonblocking_recv_dontwait},
    {"recvfrom.dontwait", 0,
     [] {
       nonblocking_io();
       socket_peer_sends(SOCK_DGRAM, true);
       set_nonblocking(fds[0], false);
     },
     nonblocking_recvfrom_dontwait},
    {"recvmsg.dontwait", 0,
     [] {
       nonblocking_io();
       socket_peer_sends(SOCK_STREAM, true);
       set_nonblocking(fds[0], false);
     },
     nonblocking_recvmsg_dontwait},
    {"recvmmsg.dontwait", 0,
     [] {
       nonblocking_io();
       socket_peer_sends(SOCK_DGRAM, true);
       set_nonblocking(fds[0], false);
     },
     nonblocking_recvmmsg_dontwait},
    {"send.dontwait", 0,
     [] {
       nonblocking_io();
       socket_full(SOCK_STREAM, true);
       set_nonblocking(fds[0], false);
     },
     nonblocking_send_dontwait},
    {"sendto.dontwait", 0,
     [] {
       nonblocking_io();
       socket_full(SOCK_DGRAM, true);
       set_nonblocking(fds[0], false);
     },
     nonblocking_sendto_dontwait},
    {"sendmsg.dontwait", 0,
     [] {
       nonblocking_io();
       socket_full(SOCK_STREAM, true);
       set_nonblocking(fds[0], false);
     },
     nonblocking_sendmsg_dontwait},
    {"sendmmsg.dontwait", 0,
     [] {
       nonblocking_io();
       socket_full(SOCK_DGRAM, true);
       set_nonblocking(fds[0], false);
     },
     nonblocking_sendmmsg_dontwait},
    // O_NONBLOCK pipes, FIFOs, terminals; blocking ones that are ready; regular files
    {"read", 0,
     [] {
       nonblocking_io();
       pipe_writer_later(true);
     },
     blocking_read},
    {"read.fifo", 0,
     [] {
       nonblocking_io();
       blocking_fifo(true);
     },
     blocking_read_fifo},
    {"read.tty", 0,
     [] {
       nonblocking_io();
       terminal(true);
     },
     blocking_read_tty},
    {"read.ready", 0,
     [] { check(pipe2(fds, O_CLOEXEC) == 0 && write(fds[1], "x", 1) == 1, "pipe with data"); },
     nonblocking_read_ready},
    {"read.file", 0, file_only, nonblocking_read_file},
    {"readv", 0,
     [] {
       nonblocking_io();
       pipe_writer_later(true);
     },
     blocking_readv},
    {"write", 0,
     [] {
       nonblocking_io();
       pipe_full(true);
     },
     blocking_write},
    {"write.file", 0, file_only, nonblocking_write_file},
    {"writev", 0,
     [] {
       nonblocking_io();
       pipe_full(true);
     },
     blocking_writev},
    {"pread", 0, file_only, nonblocking_pread},
    {"pread64", 0, file_only, nonblocking_pread64},
    {"preadv", 0, file_only, nonblocking_preadv},
    {"preadv64", 0, file_only, nonblocking_preadv64},
    {"preadv2", 0, file_only, nonblocking_preadv2},
    {"pwrite", 0, file_only, nonblocking_pwrite},
    {"pwrite64", 0, file_only, nonblocking_pwrite64},
    {"pwritev", 0, file_only, nonblocking_pwritev},
    {"pwritev2", 0, file_only, nonblocking_pwritev2},
    {"sendfile", 0,
     [] {
       nonblocking_io();
       sendfile_into_full_pipe(true);
     },
     blocking_sendfile},
    {"sendfile64", 0,
     [] {
       nonblocking_io();
       sendfile_into_full_pipe(true);
     },
     blocking_sendfile64},
    {"splice", 0,
     [] {
       nonblocking_io();
       splice_from_empty_pipe(true);
     },
     nonblocking_splice},
    {"copy_file_range", 0,
     [] {
       fds[0] = make_file("source");
       fds[1] = make_file("destination");
     },
     nonblocking_copy_file_range},
    // Zero-timeout polls
    {"poll", 0, pipe_never_ready, nonblocking_poll},
    {"ppoll", 0, pipe_never_ready, nonblocking_ppoll},
    {"select", 0, pipe_never_ready, nonblocking_select},
    {"pselect", 0, pipe_never_ready, nonblocking_pselect},
    {"epoll_wait", 0, pipe_never_ready, nonblocking_epoll_wait},
    {"epoll_pwait", 0, pipe_never_ready, nonblocking_epoll_pwait},
    {"epoll_pwait2", 0, pipe_never_ready, nonblocking_epoll_pwait2},
    // Uncontended locks, deadlines already past, values already there
    {"pthread_mutex_lock", 0, nothing, nonblocking_pthread_mutex_lock},
    {"pthread_mutex_timedlock", 0, nothing, nonblocking_pthread_mutex_timedlock},
    {"pthread_mutex_clocklock", 0, nothing, nonblocking_pthread_mutex_clocklock},
    {"pthread_rwlock_rdlock", 0, rwlock_held_for_reading, nonblocking_pthread_rwlock_rdlock},
    {"pthread_rwlock_timedrdlock", 0, rwlock_held_for_reading,
     nonblocking_pthread_rwlock_timedrdlock},
    {"pthread_rwlock_clockrdlock", 0, rwlock_held_for_reading,
     nonblocking_pthread_rwlock_clockrdlock},
    {"pthread_rwlock_wrlock", 0, nothing, nonblocking_pthread_rwlock_wrlock},
    {"pthread_rwlock_timedwrlock", 0, nothing, nonblocking_pthread_rwlock_timedwrlock},
    {"pthread_rwlock_clockwrlock", 0, nothing, nonblocking_pthread_rwlock_clockwrlock},
    {"pthread_cond_timedwait", 0, nothing, nonblocking_pthread_cond_timedwait},
    {"pthread_cond_clockwait", 0, nothing, nonblocking_pthread_cond_clockwait},
    {"sem_wait", 0, sem_available, nonblocking_sem_wait},
    {"sem_timedwait", 0, sem_available, nonblocking_sem_timedwait},
    {"sem_clockwait", 0, sem_available, nonblocking_sem_clockwait},
    {"flock", 0, [] { fds[0] = make_file("flock"); }, nonblocking_flock},
    {"lockf", 0, [] { fds[0] = make_file("lockf"); }, nonblocking_lockf},
    {"fcntl", 0, [] { fds[0] = make_file("fcntl"); }, nonblocking_fcntl},
    {"fcntl.ofd", 0, [] { fds[0] = make_file("ofd"); }, nonblocking_fcntl_ofd},
    {"futex", 0,
     [] {
       future = promise.get_future();
       promise.set_value(1);
     },
     nonblocking_futex},
    {"futex.raw", 0, nothing, nonblocking_futex_raw},
};

// Rows outside the contract's list: the symbol, then the `call` values a finding may carry.
struct ExtraRow {
  Row row;
  const char* calls;
};
const ExtraRow kExtra[] = {
    {{"fcntl64", kHoldMs, [] { file_locked("fcntl"); }, blocking_fcntl64}, "fcntl64 fcntl"},
    {{"lockf64", kHoldMs, [] { file_locked("lockf"); }, blocking_lockf64}, "lockf64 lockf"},
    {{"preadv64v2", kHoldMs, file_and_faulting_page, blocking_preadv64v2}, "preadv64v2 preadv2"},
    {{"pwritev64", kHoldMs, file_and_faulting_page, blocking_pwritev64}, "pwritev64 pwritev"},
    {{"pwritev64v2", kHoldMs, file_and_faulting_page, blocking_pwritev64v2},
     "pwritev64v2 pwritev2"},
    {{"__read_chk", kHoldMs, [] { pipe_writer_later(false); }, blocking___read_chk},
     "__read_chk read"},
    {{"__recv_chk", kPeerMs - 10, [] { socket_peer_sends(SOCK_STREAM, false); },
      blocking___recv_chk},
     "__recv_chk recv"},
    {{"__recvfrom_chk", kPeerMs - 10, [] { socket_peer_sends(SOCK_DGRAM, false); },
      blocking___recvfrom_chk},
     "__recvfrom_chk recvfrom"},
    {{"__pread_chk", kHoldMs, file_and_faulting_page, blocking___pread_chk}, "__pread_chk pread"},
    {{"__pread64_chk", kHoldMs, file_and_faulting_page, blocking___pread64_chk},
     "__pread64_chk pread64 pread"},
    {{"__poll_chk", kPeerMs - 10, [] { pipe_ready_later(false); }, blocking___poll_chk},
     "__poll_chk poll"},
    {{"__ppoll_chk", kPeerMs - 10, [] { pipe_ready_later(false); }, blocking___ppoll_chk},
     "__ppoll_chk ppoll"},
    {{"__res_query", kPeerMs - 10, setup_res, blocking___res_query}, "__res_query res_query"},
};

// One turn of the loop: the timer's callback makes the call, then the loop ends.
int run(const Row& row) {
  row.setup();
  TimerLoop loop;
  check(open_timer_loop(loop), "the loop's descriptors");
  check(wait_timer_loop(loop), "the loop's epoll_wait");
  double start = now_ms();
  row.call();
  double waited = now_ms() - start;
  close_timer_loop(loop);

  open_gate();  // rows whose call did not wait still release their helpers
  stopping.store(true);
  for (auto& t : helpers) t.join();
  int status = 0;
  while (waitpid(-1, &status, 0) > 0) {
  }
  for (const auto& p : paths_to_remove) unlink(p.c_str());
  printf("%s waited %.0f ms\n", row.name, waited);
  if (waited < row.min_wait_ms) {
    fprintf(stderr, "catalogue_victim: %s waited %.0f ms, less than %d ms\n", row.name, waited,
            row.min_wait_ms);
    return 4;
  }
  return 0;
}

template <size_t N>
const Row* find(const Row (&rows)[N], const std::string& name) {
  for (const Row& r : rows) {
    if (name == r.name) return &r;
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IONBF, 0);
  void* mem =
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  check(mem != MAP_FAILED, "mmap shared");
  shared = new (mem) Shared{};
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "list") {
    std::string which = argc > 2 ? argv[2] : "";
    if (which == "nonblocking") {
      for (const Row& r : kNonblocking) printf("%s\n", r.name);
    } else if (which == "extra") {
      for (const ExtraRow& r : kExtra) printf("%s %s\n", r.row.name, r.calls);
    } else {
      for (const Row& r : kBlocking) printf("%s\n", r.name);
    }
    return 0;
  }
  if (mode == "nonblocking" && argc > 2) {
    const Row* row = find(kNonblocking, argv[2]);
    if (row != nullptr) return run(*row);
  } else if (mode == "extra" && argc > 2) {
    for (const ExtraRow& r : kExtra) {
      if (strcmp(r.row.name, argv[2]) == 0) return run(r.row);
    }
  } else {
    const Row* row = find(kBlocking, mode);
    if (row != nullptr) return run(*row);
  }
  fprintf(stderr,
          "usage: catalogue_victim list [nonblocking|extra] | <row> | nonblocking <row> | extra "
          "<row>\n");
  return 2;
}
