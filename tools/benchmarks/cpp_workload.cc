// The C++ workload of tools/bench. Each phase exercises a path the shim sits on; the program
// prints {"phase": seconds, ...} as one JSON line. Run with and without the shim.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A plain mutex/condvar thread pool returning std::futures.
class Pool {
 public:
  explicit Pool(int n) {
    for (int i = 0; i < n; ++i) workers_.emplace_back([this] { work(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> g(mu_);
      done_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  template <typename F>
  auto submit(F f) {
    auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::move(f));
    auto future = task->get_future();
    {
      std::lock_guard<std::mutex> g(mu_);
      queue_.emplace_back([task] { (*task)(); });
    }
    cv_.notify_one();
    return future;
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return done_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> workers_;
  bool done_ = false;
};

double pool_futures(int tasks) {
  auto start = std::chrono::steady_clock::now();
  Pool pool(4);
  long sum = 0;
  std::vector<std::future<int>> batch;
  for (int i = 0; i < tasks; i += 64) {
    batch.clear();
    for (int k = 0; k < 64; ++k) batch.push_back(pool.submit([k] { return k; }));
    for (auto& f : batch) sum += f.get();
  }
  if (sum < 0) abort();
  return seconds_since(start);
}

// Two threads, each with its own epoll loop, bounce a token through eventfds.
double epoll_ping_pong(int rounds) {
  auto start = std::chrono::steady_clock::now();
  int to_b = eventfd(0, EFD_NONBLOCK), to_a = eventfd(0, EFD_NONBLOCK);
  auto player = [](int in, int out, int rounds, bool serve) {
    int ep = epoll_create1(0);
    epoll_event ev{};
    ev.events = EPOLLIN;
    epoll_ctl(ep, EPOLL_CTL_ADD, in, &ev);
    uint64_t one = 1, v;
    if (serve && write(out, &one, sizeof one) < 0) abort();
    for (int i = 0; i < rounds; ++i) {
      epoll_event got;
      while (epoll_wait(ep, &got, 1, 1000) != 1) {
      }
      if (read(in, &v, sizeof v) < 0) abort();
      if (write(out, &one, sizeof one) < 0) abort();
    }
    close(ep);
  };
  std::thread a(player, to_a, to_b, rounds, true);
  std::thread b(player, to_b, to_a, rounds, false);
  a.join();
  b.join();
  close(to_a);
  close(to_b);
  return seconds_since(start);
}

double mutex_traffic(int iterations) {
  auto start = std::chrono::steady_clock::now();
  std::mutex mu;
  volatile long counter = 0;
  for (int i = 0; i < iterations; ++i) {
    std::lock_guard<std::mutex> g(mu);
    counter = counter + 1;
  }
  return seconds_since(start);
}

double thread_churn(int threads) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < threads; ++i) {
    std::thread t([] {});
    t.join();
  }
  return seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  double scale = argc > 1 ? atof(argv[1]) : 1.0;
  double pool = pool_futures(static_cast<int>(200000 * scale));
  double ping = epoll_ping_pong(static_cast<int>(50000 * scale));
  double mutex = mutex_traffic(static_cast<int>(20000000 * scale));
  double churn = thread_churn(static_cast<int>(5000 * scale));
  printf(
      "{\"pool_futures\": %.6f, \"epoll_ping_pong\": %.6f, \"mutex_traffic\": %.6f, "
      "\"thread_churn\": %.6f, \"total\": %.6f}\n",
      pool, ping, mutex, churn, pool + ping + mutex + churn);
  return 0;
}
