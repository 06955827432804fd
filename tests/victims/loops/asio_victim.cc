// boost::asio victim: handlers that block the io_context (the bugs), and programs that keep it
// free.
// Usage: asio_victim MODE
//   sleep              a steady_timer handler sleeps 20 ms (std::this_thread::sleep_for)
//   future             a steady_timer handler waits in std::future::get for a value another
//                      thread sets 350 ms later (libstdc++ waits with syscall(SYS_futex))
//   mutex              a steady_timer handler locks a std::mutex another thread holds for 350 ms
//   getaddrinfo        a steady_timer handler resolves "localhost" with the synchronous
//                      ip::tcp::resolver::resolve
//   clean-async        no finding: async_write/async_read over a local::stream_protocol socket
//                      pair, and a TCP echo with async_accept/async_connect (asio makes its
//                      descriptors non-blocking with ioctl(FIONBIO))
//   clean-pool         no finding: the blocking calls posted to a boost::asio::thread_pool,
//                      results posted back to the io_context
//   clean-after        no finding: blocking shutdown code after io_context::run() returned,
//                      before the io_context is destroyed
//   clean-two-threads  no finding: one io_context run by two threads, idle between timers
//                      150 ms apart (the idle thread waits in asio's scheduler)
//   clean-idle-server  no finding: one io_context run by three threads with nothing to do for
//                      1.5 s (a server without traffic), then stopped
// Every mode prints what it did and exits 0.
#include "loops_common.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <utility>  // Boost 1.74's asio/awaitable.hpp uses std::exchange without it (C++20)

#include <boost/asio.hpp>

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;

namespace {

int listen_port;

// Another thread that holds `mutex` for LV_CONTENDED_MS; the constructor returns once it holds
// it.
class MutexHolder {
 public:
  explicit MutexHolder(std::mutex& mutex)
      : thread_([this, &mutex] {
          std::lock_guard<std::mutex> lock(mutex);
          held_.store(true);
          std::this_thread::sleep_for(std::chrono::milliseconds(LV_CONTENDED_MS));
        }) {
    while (!held_.load()) sched_yield();
  }
  void join() { thread_.join(); }

 private:
  std::atomic<bool> held_{false};
  std::thread thread_;
};

// Runs `handler` from a steady_timer that expires at once, on a fresh io_context. The
// io_context (and its epoll descriptor) is destroyed before this returns.
void run_timer_loop(const std::function<void(asio::io_context&)>& handler) {
  asio::io_context io;
  asio::steady_timer timer(io, 0ms);
  timer.async_wait([&](error_code) { handler(io); });
  io.run();
}

}  // namespace

// --- the bugs: blocking calls in timer handlers ---------------------------------------------

extern "C" __attribute__((noinline)) void on_timer_sleeps() {
  std::this_thread::sleep_for(20ms);
  printf("sleep_for(20 ms) in a timer handler\n");
}

extern "C" __attribute__((noinline)) void on_timer_waits_for_future(std::future<int>* value) {
  long start = lv_now_ms();
  int v = value->get();
  printf("future::get() in a timer handler waited %ld ms for %d\n", lv_now_ms() - start, v);
}

extern "C" __attribute__((noinline)) void on_timer_locks_contended_mutex(std::mutex* mutex) {
  long start = lv_now_ms();
  mutex->lock();
  long waited = lv_now_ms() - start;
  mutex->unlock();
  printf("std::mutex::lock() in a timer handler waited %ld ms\n", waited);
}

extern "C" __attribute__((noinline)) void on_timer_resolves_name(asio::io_context* io) {
  asio::ip::tcp::resolver resolver(*io);
  auto results = resolver.resolve("localhost", "80");
  printf("tcp::resolver::resolve(localhost) in a timer handler: %zu results\n", results.size());
}

// --- clean-async ------------------------------------------------------------------------------

namespace {

int clean_async() {
  asio::io_context io;
  // A socket pair: created blocking, made non-blocking by asio at the first asynchronous call.
  asio::local::stream_protocol::socket a(io), b(io);
  asio::local::connect_pair(a, b);
  char pair_buf[5];
  asio::async_write(a, asio::buffer("hello", 5), [](error_code ec, std::size_t) {
    if (ec) lv_die("async_write");
  });
  asio::async_read(b, asio::buffer(pair_buf), [&](error_code ec, std::size_t n) {
    if (ec) lv_die("async_read");
    printf("async_read over a socket pair: %.*s\n", (int)n, pair_buf);
  });
  // TCP over loopback: async_accept, async_connect, an echo.
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
  asio::ip::tcp::socket server(io), client(io);
  char server_buf[4], client_buf[4];
  acceptor.async_accept(server, [&](error_code ec) {
    if (ec) lv_die("async_accept");
    asio::async_read(server, asio::buffer(server_buf), [&](error_code ec, std::size_t n) {
      if (ec) lv_die("async_read");
      asio::async_write(server, asio::buffer(server_buf, n), [](error_code ec, std::size_t) {
        if (ec) lv_die("async_write");
      });
    });
  });
  client.async_connect(acceptor.local_endpoint(), [&](error_code ec) {
    if (ec) lv_die("async_connect");
    asio::async_write(client, asio::buffer("ping", 4), [](error_code ec, std::size_t) {
      if (ec) lv_die("async_write");
    });
    asio::async_read(client, asio::buffer(client_buf), [&](error_code ec, std::size_t n) {
      if (ec) lv_die("async_read");
      printf("TCP echo with async_accept/async_connect: %.*s\n", (int)n, client_buf);
    });
  });
  io.run();
  return 0;
}

// --- clean-pool -------------------------------------------------------------------------------

// Everything the buggy modes do in handlers, and more, on a pool thread.
void blocking_work(std::mutex& mutex) {
  struct addrinfo* res = nullptr;
  if (getaddrinfo("localhost", "80", nullptr, &res) == 0) freeaddrinfo(res);
  std::this_thread::sleep_for(50ms);
  int fd = lv_temp_file();
  if (write(fd, "state\n", 6) != 6 || fsync(fd) != 0) lv_die("fsync");
  close(fd);
  int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr = lv_loopback(listen_port);
  if (sock < 0 || connect(sock, (struct sockaddr*)&addr, sizeof addr) != 0) lv_die("connect");
  close(sock);
  pid_t pid = lv_child(30);
  if (waitpid(pid, nullptr, 0) != pid) lv_die("waitpid");
  std::lock_guard<std::mutex> lock(mutex);  // contended: the holder keeps it
}

int clean_pool() {
  int listener = lv_listener(&listen_port);
  std::mutex mutex;
  MutexHolder holder(mutex);
  std::promise<int> promise;
  std::future<int> value = promise.get_future();
  std::thread setter([&] {
    std::this_thread::sleep_for(200ms);
    promise.set_value(7);
  });
  asio::thread_pool pool(2);
  {
    asio::io_context io;
    auto guard = asio::make_work_guard(io);
    asio::steady_timer timer(io, 0ms);
    int done = 0;
    timer.async_wait([&](error_code) {
      asio::post(pool, [&] {
        blocking_work(mutex);
        asio::post(io, [&] {
          printf("thread_pool: getaddrinfo, sleep_for, fsync, connect, waitpid, mutex\n");
          if (++done == 2) guard.reset();
        });
      });
      asio::post(pool, [&] {
        int v = value.get();  // waits for the setter
        asio::post(io, [&, v] {
          printf("thread_pool: future::get() = %d\n", v);
          if (++done == 2) guard.reset();
        });
      });
    });
    io.run();
  }
  pool.join();
  setter.join();
  holder.join();
  close(listener);
  return 0;
}

// --- clean-after ------------------------------------------------------------------------------

// What a program does at shutdown, once its io_context::run() returned: all of it may block.
__attribute__((noinline)) void shutdown_after_run(std::mutex& mutex) {
  usleep(50 * 1000);
  pid_t pid = lv_child(30);
  if (waitpid(pid, nullptr, 0) != pid) lv_die("waitpid");
  int fd = lv_temp_file();
  if (write(fd, "state\n", 6) != 6 || fsync(fd) != 0) lv_die("fsync");
  close(fd);
  MutexHolder holder(mutex);
  long start = lv_now_ms();
  mutex.lock();
  long waited = lv_now_ms() - start;
  mutex.unlock();
  holder.join();  // the holder has released the mutex: it is finishing or finished
  printf("after io_context::run: usleep, waitpid, fsync, a mutex that waited %ld ms\n", waited);
}

int clean_after() {
  std::mutex mutex;
  asio::io_context io;
  asio::steady_timer timer(io, 10ms);
  timer.async_wait([](error_code) { printf("timer fired\n"); });
  io.run();
  shutdown_after_run(mutex);  // run() returned; the io_context (and its epoll fd) still exists
  return 0;
}

// --- clean-two-threads ------------------------------------------------------------------------

int clean_two_threads() {
  asio::io_context io;
  asio::steady_timer timer(io);
  int fired = 0;
  std::function<void(error_code)> tick = [&](error_code) {
    if (++fired < 4) {
      timer.expires_after(150ms);
      timer.async_wait(tick);
    }
  };
  timer.expires_after(150ms);
  timer.async_wait(tick);
  // The main thread runs no loop: it only starts and joins the two that do.
  std::thread first([&] { io.run(); });
  std::thread second([&] { io.run(); });
  first.join();
  second.join();
  printf("two threads ran one io_context: %d timers\n", fired);
  return 0;
}

int clean_idle_server() {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread threads[3];
  for (auto& t : threads) t = std::thread([&] { io.run(); });
  std::this_thread::sleep_for(1500ms);
  io.stop();
  for (auto& t : threads) t.join();
  printf("three threads idle in one io_context, then stopped\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IONBF, 0);
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "sleep") {
    run_timer_loop([](asio::io_context&) { on_timer_sleeps(); });
  } else if (mode == "future") {
    std::promise<int> promise;
    std::future<int> value = promise.get_future();
    std::thread setter([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(LV_CONTENDED_MS));
      promise.set_value(42);
    });
    run_timer_loop([&](asio::io_context&) { on_timer_waits_for_future(&value); });
    setter.join();
  } else if (mode == "mutex") {
    std::mutex mutex;
    MutexHolder holder(mutex);
    run_timer_loop([&](asio::io_context&) { on_timer_locks_contended_mutex(&mutex); });
    holder.join();
  } else if (mode == "getaddrinfo") {
    run_timer_loop([](asio::io_context& io) { on_timer_resolves_name(&io); });
  } else if (mode == "clean-async") {
    return clean_async();
  } else if (mode == "clean-pool") {
    return clean_pool();
  } else if (mode == "clean-after") {
    return clean_after();
  } else if (mode == "clean-two-threads") {
    return clean_two_threads();
  } else if (mode == "clean-idle-server") {
    return clean_idle_server();
  } else {
    fprintf(stderr,
            "usage: asio_victim sleep|future|mutex|getaddrinfo|clean-async|clean-pool|"
            "clean-after|clean-two-threads|clean-idle-server\n");
    return 2;
  }
  return 0;
}
