// Event loops built on poll, ppoll, select and pselect over two descriptors (a periodic
// timerfd and a pipe nobody writes), with callbacks that block, and clean programs around them.
//
//   poll_loop_victim <kind>-sleep    kind: poll ppoll select pselect. The callback sleeps
//                                    (usleep) from loop_callback_sleeps: one finding.
//   poll_loop_victim <kind>-nested   The callback polls one other descriptor with a 100 ms
//                                    timeout from loop_callback_polls: one finding (poll).
//   poll_loop_victim <kind>-zero     The callback polls with a zero timeout: clean.
//   poll_loop_victim <kind>-returns  The loop runs in a function that returns; its caller then
//                                    sleeps and waits for a child: clean.
//   poll_loop_victim single-socket   A thread polls ONE socket with a timeout, repeatedly, then
//                                    sleeps: no loop, clean.
//   poll_loop_victim poll-wrapped-sleep  The loop calls poll through a small function of its own
//                                    (wait_for_events) and its callback sleeps, from
//                                    loop_callback_sleeps.
#include <fcntl.h>
#include <poll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

namespace {

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "poll_loop_victim: %s failed: %s\n", what, strerror(errno));
  _exit(3);
}
void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

enum class Kind { poll, ppoll, select, pselect };

struct Loop {
  int timer;    // fires every millisecond
  int idle[2];  // a pipe nobody writes: the loop's second descriptor
};

Loop make_loop() {
  Loop l{};
  l.timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  check(l.timer >= 0, "timerfd_create");
  itimerspec its{};
  its.it_value.tv_nsec = 1000000;
  its.it_interval.tv_nsec = 1000000;
  check(timerfd_settime(l.timer, 0, &its, nullptr) == 0, "timerfd_settime");
  check(pipe2(l.idle, O_CLOEXEC) == 0, "pipe2");
  return l;
}

void close_loop(Loop& l) {
  close(l.timer);
  close(l.idle[0]);
  close(l.idle[1]);
}

// The timer fired: read its count (non-blocking) and run the callback.
bool on_timer(const Loop& l, void (*callback)()) {
  uint64_t expirations = 0;
  if (read(l.timer, &expirations, sizeof expirations) != sizeof expirations) return false;
  callback();
  return true;
}

// A hand-written loop: the wait is made right here, as such loops do.
__attribute__((noinline)) void run_loop(Kind kind, Loop& l, int ticks, void (*callback)()) {
  int top = l.timer > l.idle[0] ? l.timer : l.idle[0];
  for (int tick = 0; tick < ticks;) {
    bool timer_ready = false;
    switch (kind) {
      case Kind::poll: {
        pollfd p[2] = {{l.timer, POLLIN, 0}, {l.idle[0], POLLIN, 0}};
        check(poll(p, 2, 5000) >= 1, "poll");
        timer_ready = (p[0].revents & POLLIN) != 0;
        break;
      }
      case Kind::ppoll: {
        pollfd p[2] = {{l.timer, POLLIN, 0}, {l.idle[0], POLLIN, 0}};
        timespec t{5, 0};
        check(ppoll(p, 2, &t, nullptr) >= 1, "ppoll");
        timer_ready = (p[0].revents & POLLIN) != 0;
        break;
      }
      case Kind::select: {
        fd_set set;
        FD_ZERO(&set);
        FD_SET(l.timer, &set);
        FD_SET(l.idle[0], &set);
        timeval t{5, 0};
        check(select(top + 1, &set, nullptr, nullptr, &t) >= 1, "select");
        timer_ready = FD_ISSET(l.timer, &set);
        break;
      }
      case Kind::pselect: {
        fd_set set;
        FD_ZERO(&set);
        FD_SET(l.timer, &set);
        FD_SET(l.idle[0], &set);
        timespec t{5, 0};
        check(pselect(top + 1, &set, nullptr, nullptr, &t, nullptr) >= 1, "pselect");
        timer_ready = FD_ISSET(l.timer, &set);
        break;
      }
    }
    if (timer_ready && on_timer(l, callback)) ++tick;
  }
}

// The same loop with its wait in a function of its own, as many event libraries have it
// (a backend's dispatch function polls and returns the ready events).
__attribute__((noinline)) bool wait_for_events(Loop& l) {
  pollfd p[2] = {{l.timer, POLLIN, 0}, {l.idle[0], POLLIN, 0}};
  check(poll(p, 2, 5000) >= 1, "poll");
  return (p[0].revents & POLLIN) != 0;
}
__attribute__((noinline)) void run_wrapped_loop(Loop& l, int ticks, void (*callback)()) {
  for (int tick = 0; tick < ticks;) {
    if (wait_for_events(l) && on_timer(l, callback)) ++tick;
  }
}

int other[2] = {-1, -1};  // a pipe nobody writes, for the nested polls
volatile int sink;        // written after a call, so that the call is never a tail call

}  // namespace

#define CALLBACK extern "C" __attribute__((noinline)) void

CALLBACK loop_callback_sleeps() {
  usleep(20000);
  sink = 1;
}

namespace {
void nested_poll(int timeout_ms) {
  pollfd p{other[0], POLLIN, 0};
  check(poll(&p, 1, timeout_ms) == 0, "nested poll");
}
}  // namespace

CALLBACK loop_callback_polls() {
  nested_poll(100);
  sink = 1;
}
CALLBACK callback_polls_without_waiting() {
  nested_poll(0);
  sink = 1;
}
CALLBACK callback_does_nothing() {
  sink = 1;
}

// After the loop: blocking shutdown is fine.
extern "C" __attribute__((noinline)) void shutdown_after_loop(pid_t child) {
  usleep(20000);
  int status = 0;
  check(waitpid(child, &status, 0) == child && WIFEXITED(status), "waitpid");
}

// A client with a socket timeout: no loop.
extern "C" __attribute__((noinline)) void single_socket_client(int sock) {
  int received = 0;
  for (int i = 0; i < 8; ++i) {
    pollfd p{sock, POLLIN, 0};
    int n = poll(&p, 1, 10);
    check(n >= 0, "poll");
    if (n == 1) {
      char c;
      check(recv(sock, &c, 1, 0) == 1, "recv");
      ++received;
    }
  }
  check(received == 1, "the one message");
  usleep(20000);
}

#undef CALLBACK

namespace {

struct Mode {
  const char* name;
  Kind kind;
};
const Mode kModes[] = {
    {"poll", Kind::poll},
    {"ppoll", Kind::ppoll},
    {"select", Kind::select},
    {"pselect", Kind::pselect},
};

int run_callbacks(Kind kind, void (*callback)()) {
  check(pipe2(other, O_CLOEXEC) == 0, "pipe2");
  Loop l = make_loop();
  run_loop(kind, l, 2, callback);  // the same bug twice: one finding
  close_loop(l);
  return 0;
}

__attribute__((noinline)) void serve(Kind kind) {
  Loop l = make_loop();
  run_loop(kind, l, 3, callback_does_nothing);
  // The descriptors stay open: the loop ends because this function returns.
}

int loop_returns(Kind kind) {
  pid_t child = fork();
  check(child >= 0, "fork");
  if (child == 0) {
    usleep(30000);
    _exit(0);
  }
  serve(kind);
  shutdown_after_loop(child);
  return 0;
}

int single_socket() {
  int sv[2];
  check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
  std::thread client(single_socket_client, sv[0]);
  usleep(25000);
  check(send(sv[1], "x", 1, 0) == 1, "send");
  client.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IONBF, 0);
  std::string mode = argc > 1 ? argv[1] : "";
  for (const Mode& m : kModes) {
    std::string k = m.name;
    if (mode == k + "-sleep") return run_callbacks(m.kind, loop_callback_sleeps);
    if (mode == k + "-nested") return run_callbacks(m.kind, loop_callback_polls);
    if (mode == k + "-zero") return run_callbacks(m.kind, callback_polls_without_waiting);
    if (mode == k + "-returns") return loop_returns(m.kind);
  }
  if (mode == "single-socket") return single_socket();
  if (mode == "poll-wrapped-sleep") {
    Loop l = make_loop();
    run_wrapped_loop(l, 2, loop_callback_sleeps);
    close_loop(l);
    return 0;
  }
  fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
  return 2;
}
