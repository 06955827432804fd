// The futures/exceptions workload of tools/bench: promise/future churn with a share of
// failures that are retrieved, and throw-heavy code (exceptions thrown and caught through a
// few frames, none stored in a future). Prints one JSON line of phase times.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <stdexcept>
#include <string>

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One million promise/future pairs; every 20th fails and its exception is retrieved by get().
double future_churn(int pairs) {
  auto start = std::chrono::steady_clock::now();
  long sum = 0;
  for (int i = 0; i < pairs; ++i) {
    std::promise<int> p;
    std::future<int> f = p.get_future();
    if (i % 20 == 0) {
      p.set_exception(std::make_exception_ptr(std::runtime_error("failed")));
      try {
        sum += f.get();
      } catch (const std::runtime_error&) {
        ++sum;
      }
    } else {
      p.set_value(i);
      sum += f.get();
    }
  }
  if (sum == 42) abort();
  return seconds_since(start);
}

__attribute__((noinline)) int parse_digit(const char* s, int depth) {
  if (depth > 0) return parse_digit(s, depth - 1) + 1;
  if (*s < '0' || *s > '9') throw std::invalid_argument(std::string("not a digit: ") + s);
  return *s - '0';
}

// Exceptions as control flow, thrown through 8 frames and caught: none is ever captured.
double throw_heavy(int throws) {
  auto start = std::chrono::steady_clock::now();
  long sum = 0;
  for (int i = 0; i < throws; ++i) {
    try {
      sum += parse_digit("x", 8);
    } catch (const std::invalid_argument& e) {
      sum += e.what()[0];
    }
  }
  if (sum == 42) abort();
  return seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  double scale = argc > 1 ? atof(argv[1]) : 1.0;
  double churn = future_churn(static_cast<int>(1000000 * scale));
  double throws = throw_heavy(static_cast<int>(300000 * scale));
  printf("{\"future_churn\": %.6f, \"throw_heavy\": %.6f, \"total\": %.6f}\n", churn, throws,
         churn + throws);
  return 0;
}
