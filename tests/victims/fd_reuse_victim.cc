// Descriptor numbers that change meaning on an event-loop thread: closed and reused, replaced
// by dup2()/dup3(), or switched between blocking and non-blocking with fcntl(F_SETFL) or
// ioctl(FIONBIO). Whatever loopsan remembers about a descriptor must follow.
//
// Every mode runs in the callback of an epoll loop and first "primes" the descriptor number with
// a call on it, then changes what the number means, then calls recv (read for pipes) again:
//
//   *-to-blocking, *-clear    prime: non-blocking recv (EAGAIN, quiet); then the number is a
//                             blocking socket and reuse_recv_blocking waits for a peer that
//                             writes 50 ms later: ONE finding, from reuse_recv_blocking.
//   *-to-nonblocking, *-set   prime: recv on a blocking socket (a finding, from
//                             prime_recv_blocking); then the number is non-blocking and
//                             reuse_recv_nonblocking gets EAGAIN: still ONE finding, the prime.
//
// Modes: socket-nonblocking-to-blocking socket-blocking-to-nonblocking
//        dup2-nonblocking-to-blocking dup2-blocking-to-nonblocking
//        dup3-nonblocking-to-blocking dup3-blocking-to-nonblocking
//        fcntl-clear fcntl-set ioctl-clear ioctl-set
//        pipe-nonblocking-to-blocking   (read; reuse_read_blocking waits 300 ms: one finding)
//        shared-description-clear       (O_NONBLOCK cleared through a dup() of the number)
//        fcntl64-clear fcntl64-set      (fcntl64: what -D_FILE_OFFSET_BITS=64 builds call)
//        fclose-nonblocking-to-blocking fclose-blocking-to-nonblocking
//                                       (the number closed by fclose() of an fdopen() stream:
//                                       libc closes it internally, not through close())
// The victim checks that numbers really were reused and flags really changed (exit 3 if not).
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "timer_loop.h"

namespace {

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "fd_reuse_victim: %s failed: %s\n", what, strerror(errno));
  _exit(3);
}
void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

char buf[16];

// The peer: a thread that writes one byte to `peer_fd` `peer_delay_ms` after it is set.
std::atomic<int> peer_fd{-1};
std::atomic<int> peer_delay_ms{0};
std::atomic<bool> done{false};
void peer_writes_later(int fd, int ms) {
  peer_delay_ms.store(ms);
  peer_fd.store(fd);  // an atomic store, no call
}
void peer_main() {
  while (peer_fd.load() < 0 && !done.load()) usleep(1000);
  int fd = peer_fd.load();
  if (fd < 0) return;
  usleep(peer_delay_ms.load() * 1000);
  check(write(fd, "x", 1) == 1, "peer write");
}

bool is_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  check(flags >= 0, "F_GETFL");
  return (flags & O_NONBLOCK) != 0;
}

}  // namespace

#define CALL extern "C" __attribute__((noinline)) void

CALL prime_recv_nonblocking(int fd) {
  check(recv(fd, buf, 1, 0) < 0 && errno == EAGAIN, "non-blocking recv");
}
CALL prime_recv_blocking(int fd) {
  check(recv(fd, buf, 1, 0) == 1, "blocking recv with data");
}
CALL prime_read_nonblocking(int fd) {
  check(read(fd, buf, 1) < 0 && errno == EAGAIN, "non-blocking read");
}
CALL reuse_recv_blocking(int fd) {
  check(recv(fd, buf, 1, 0) == 1, "blocking recv");
}
CALL reuse_recv_nonblocking(int fd) {
  check(recv(fd, buf, 1, 0) < 0 && errno == EAGAIN, "non-blocking recv");
}
CALL reuse_read_blocking(int fd) {
  check(read(fd, buf, 1) == 1, "blocking read");
}

#undef CALL

namespace {

int pair(bool nonblocking, int sv[2]) {
  check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0,
                   sv) == 0,
        "socketpair");
  return sv[0];
}

// A blocking socket pair with one byte waiting, made before the loop (the write is off-loop).
int pending[2] = {-1, -1};
void blocking_pair_with_data() {
  pair(false, pending);
  check(write(pending[1], "p", 1) == 1, "write");
}

void reused(int got, int wanted) {
  printf("descriptor %d reused as %d\n", wanted, got);
  check(got == wanted, "reuse of the descriptor number");
}

// `close_number` closes a descriptor: close(), or fclose() of an fdopen() stream, which closes it
// inside libc.
void fclose_descriptor(int fd) {
  FILE* f = fdopen(fd, "r+");
  check(f != nullptr, "fdopen");
  check(fclose(f) == 0, "fclose");
}
void close_descriptor(int fd) {
  check(close(fd) == 0, "close");
}

void nonblocking_to_blocking(void (*close_number)(int)) {
  int a[2], b[2];
  pair(true, a);
  prime_recv_nonblocking(a[0]);
  close_number(a[0]);
  close(a[1]);
  pair(false, b);
  reused(b[0], a[0]);
  check(!is_nonblocking(b[0]), "a blocking socket");
  peer_writes_later(b[1], 50);
  reuse_recv_blocking(b[0]);
}

void blocking_to_nonblocking(void (*close_number)(int)) {
  int b[2];
  int n = pending[0];
  prime_recv_blocking(n);
  close_number(n);
  close(pending[1]);
  pair(true, b);
  reused(b[0], n);
  reuse_recv_nonblocking(b[0]);
}

void dup_nonblocking_to_blocking(bool use_dup3) {
  int a[2], b[2];
  pair(true, a);
  prime_recv_nonblocking(a[0]);
  pair(false, b);
  int got = use_dup3 ? dup3(b[0], a[0], O_CLOEXEC) : dup2(b[0], a[0]);
  reused(got, a[0]);
  check(!is_nonblocking(a[0]), "a blocking socket");
  peer_writes_later(b[1], 50);
  reuse_recv_blocking(a[0]);
}

void dup_blocking_to_nonblocking(bool use_dup3) {
  int b[2];
  int n = pending[0];
  prime_recv_blocking(n);
  pair(true, b);
  int got = use_dup3 ? dup3(b[0], n, O_CLOEXEC) : dup2(b[0], n);
  reused(got, n);
  check(is_nonblocking(n), "a non-blocking socket");
  reuse_recv_nonblocking(n);
}

enum class Setter { fcntl, fcntl64, ioctl };
void set_flag(int fd, bool nonblocking, Setter setter) {
  if (setter == Setter::fcntl64) {
    int flags = fcntl64(fd, F_GETFL);
    check(fcntl64(fd, F_SETFL, nonblocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) == 0,
          "fcntl64(F_SETFL)");
  } else if (setter == Setter::ioctl) {
    int on = nonblocking ? 1 : 0;
    check(ioctl(fd, FIONBIO, &on) == 0, "ioctl(FIONBIO)");
  } else {
    int flags = fcntl(fd, F_GETFL);
    check(fcntl(fd, F_SETFL, nonblocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) == 0,
          "fcntl(F_SETFL)");
  }
  check(is_nonblocking(fd) == nonblocking, "the flag changed");
}

void flag_clear(Setter setter) {
  int a[2];
  pair(true, a);
  prime_recv_nonblocking(a[0]);
  set_flag(a[0], false, setter);
  peer_writes_later(a[1], 50);
  reuse_recv_blocking(a[0]);
}

void flag_set(Setter setter) {
  int n = pending[0];
  prime_recv_blocking(n);
  set_flag(n, true, setter);
  reuse_recv_nonblocking(n);
}

void pipe_nonblocking_to_blocking() {
  int a[2], b[2];
  check(pipe2(a, O_CLOEXEC | O_NONBLOCK) == 0, "pipe2");
  prime_read_nonblocking(a[0]);
  close(a[0]);
  close(a[1]);
  check(pipe2(b, O_CLOEXEC) == 0, "pipe2");
  reused(b[0], a[0]);
  check(!is_nonblocking(b[0]), "a blocking pipe");
  peer_writes_later(b[1], 300);
  reuse_read_blocking(b[0]);
}

// O_NONBLOCK belongs to the open file description: clearing it through another descriptor of
// the same description makes this one blocking too.
void shared_description_clear() {
  int a[2];
  pair(true, a);
  prime_recv_nonblocking(a[0]);
  int other = dup(a[0]);
  check(other >= 0, "dup");
  set_flag(other, false, Setter::fcntl);
  check(!is_nonblocking(a[0]), "the shared description is blocking");
  peer_writes_later(a[1], 50);
  reuse_recv_blocking(a[0]);
}

struct Mode {
  const char* name;
  void (*run)();
  bool needs_pending;
};
const Mode kModes[] = {
    {"socket-nonblocking-to-blocking", [] { nonblocking_to_blocking(close_descriptor); }, false},
    {"socket-blocking-to-nonblocking", [] { blocking_to_nonblocking(close_descriptor); }, true},
    {"dup2-nonblocking-to-blocking", [] { dup_nonblocking_to_blocking(false); }, false},
    {"dup2-blocking-to-nonblocking", [] { dup_blocking_to_nonblocking(false); }, true},
    {"dup3-nonblocking-to-blocking", [] { dup_nonblocking_to_blocking(true); }, false},
    {"dup3-blocking-to-nonblocking", [] { dup_blocking_to_nonblocking(true); }, true},
    {"fcntl-clear", [] { flag_clear(Setter::fcntl); }, false},
    {"fcntl-set", [] { flag_set(Setter::fcntl); }, true},
    {"fcntl64-clear", [] { flag_clear(Setter::fcntl64); }, false},
    {"fcntl64-set", [] { flag_set(Setter::fcntl64); }, true},
    {"ioctl-clear", [] { flag_clear(Setter::ioctl); }, false},
    {"ioctl-set", [] { flag_set(Setter::ioctl); }, true},
    {"pipe-nonblocking-to-blocking", pipe_nonblocking_to_blocking, false},
    {"shared-description-clear", shared_description_clear, false},
    {"fclose-nonblocking-to-blocking", [] { nonblocking_to_blocking(fclose_descriptor); }, false},
    {"fclose-blocking-to-nonblocking", [] { blocking_to_nonblocking(fclose_descriptor); }, true},
};

// One turn of an epoll loop: the timer's callback runs the mode.
int run(const Mode& mode) {
  if (mode.needs_pending) blocking_pair_with_data();
  std::thread peer(peer_main);
  TimerLoop loop;
  check(open_timer_loop(loop), "the loop's descriptors");
  check(wait_timer_loop(loop), "the loop's epoll_wait");
  mode.run();
  close_timer_loop(loop);
  done.store(true);
  peer.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IONBF, 0);
  std::string name = argc > 1 ? argv[1] : "";
  if (name == "list") {
    for (const Mode& m : kModes) printf("%s\n", m.name);
    return 0;
  }
  for (const Mode& m : kModes) {
    if (name == m.name) return run(m);
  }
  fprintf(stderr, "unknown mode '%s'\n", name.c_str());
  return 2;
}
