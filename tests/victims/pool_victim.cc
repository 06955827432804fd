// A hand-written C++ thread pool that tells loopsan about its queue through the C API
// (loopsan_pool_created, loopsan_task_queued, and loopsan::TaskScope for started/finished).
//   starved: 2 workers, 6 report jobs of 1.5 s each submitted at once: four wait, the last two
//            for 1.5 s -> pool-starvation naming submit_report_jobs and slow_report_job.
//   sized:   the same jobs on a pool sized for them (6 workers): no task waits, no finding.
#include "loopsan/loopsan.hpp"

#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

class Pool {
 public:
  Pool(const char* name, int workers) {
    loopsan_pool_created(this, name, workers);
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> g(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
    loopsan_pool_destroyed(this);
  }
  void submit(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> g(mutex_);
      jobs_.push_back(std::move(job));
      loopsan_task_queued(this, nullptr);  // FIFO: no task identity needed
    }
    cv_.notify_one();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      loopsan::TaskScope running(this, nullptr);
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

__attribute__((noinline)) void slow_report_job() {
  usleep(1500000);  // a blocking call holding a worker
}

__attribute__((noinline)) void submit_report_jobs(Pool& pool, int jobs) {
  for (int i = 0; i < jobs; ++i) pool.submit(slow_report_job);
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  int workers = mode == "sized" ? 6 : 2;
  {
    Pool pool("report-pool", workers);
    submit_report_jobs(pool, 6);
  }
  printf("done\n");
  return 0;
}
