// A batch job starts its steps with std::async and only waits for them: the one that fails
// does so silently.
#include <chrono>
#include <cstdio>
#include <future>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

int resize_image(int id) {
  if (id == 2) throw std::runtime_error("image " + std::to_string(id) + " is corrupt");
  return id;
}

}  // namespace

int main() {
  std::vector<std::future<int>> steps;
  for (int id = 0; id < 4; ++id) steps.push_back(std::async(std::launch::async, resize_image, id));
  for (auto& step : steps) step.wait();  // the bug: wait() is not get()
  std::puts("batch finished");
  return 0;
}
