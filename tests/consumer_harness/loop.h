// A small event loop on its own thread (epoll + eventfd, as a server's would be), shared by
// every test of a test program: tests post handlers to it and wait for them. A handler that
// blocks is a finding raised on the loop thread, not the test's, and a handler posted by two
// tests runs in the same frames twice: the second time it is a repeat of the first finding.
#pragma once

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

class LoopThread {
 public:
  LoopThread() : thread_([this] { run(); }) {}
  ~LoopThread() {
    post([this] { stop_ = true; });
    thread_.join();
    close(wake_);
    close(epfd_);
  }

  // Runs `handler` on the loop and waits for it.
  void run_on_loop(std::function<void()> handler) {
    std::promise<void> done;
    post([&] {
      handler();
      done.set_value();
    });
    done.get_future().wait();
  }

  static LoopThread& shared() {
    static LoopThread loop;
    return loop;
  }

 private:
  void post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> g(mutex_);
      tasks_.push_back(std::move(task));
    }
    uint64_t one = 1;
    (void)!write(wake_, &one, sizeof one);
  }

  void run() {
    epoll_event ev{};
    ev.events = EPOLLIN;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, wake_, &ev);
    while (!stop_) {
      epoll_event out[4];
      if (epoll_wait(epfd_, out, 4, -1) <= 0) continue;
      uint64_t n;
      (void)!read(wake_, &n, sizeof n);
      for (;;) {
        std::function<void()> task;
        {
          std::lock_guard<std::mutex> g(mutex_);
          if (tasks_.empty()) break;
          task = std::move(tasks_.front());
          tasks_.pop_front();
        }
        task();
      }
    }
  }

  int epfd_ = epoll_create1(EPOLL_CLOEXEC);
  int wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  bool stop_ = false;
  std::mutex mutex_;
  std::deque<std::function<void()>> tasks_;
  std::thread thread_;
};

// The bug: a handler that sleeps on the loop thread (a blocking-call finding, whatever it
// lasts). noinline: the finding names this function.
__attribute__((noinline)) inline void consumer_handler_that_sleeps() {
  usleep(2000);
  asm volatile("" ::: "memory");
}

// Its clean twin: the same work, no blocking call.
__attribute__((noinline)) inline void consumer_handler_that_computes() {
  volatile int sum = 0;
  for (int i = 0; i < 1000; ++i) sum = sum + i;
}

// Another bug, on the test's own thread: a task's exception that nobody reads, lost when its
// future is dropped (an unretrieved-exception finding, whose guilty frame is the throw).
__attribute__((noinline)) inline int consumer_task_that_throws() {
  throw std::runtime_error("lost with its future");
}
