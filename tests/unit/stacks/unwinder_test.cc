// Both unwinders a stack capture may use give the same frames: libunwind, and libgcc's for a
// fork() child that may have inherited one of libunwind's locks held (agent/stacks/stack.cc).
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "agent/stacks/stack.h"

namespace {

std::vector<std::string> functions_of(loopsan::StackId id) {
  std::vector<std::string> names;
  for (const loopsan::Frame& f : loopsan::symbolize(id)) names.push_back(f.function);
  return names;
}

__attribute__((noinline)) loopsan::StackId capture_in_handler(bool fork_safe) {
  loopsan::use_fork_safe_unwinder_for_testing(fork_safe);
  loopsan::StackId id = loopsan::capture_stack();
  loopsan::use_fork_safe_unwinder_for_testing(false);
  asm volatile("" ::: "memory");  // keep this frame
  return id;
}

__attribute__((noinline)) loopsan::StackId request_handler(bool fork_safe) {
  loopsan::StackId id = capture_in_handler(fork_safe);
  asm volatile("" ::: "memory");
  return id;
}

// From the first frame named `function` to the end.
std::vector<std::string> from(const std::vector<std::string>& names, const std::string& function) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].find(function) != std::string::npos) return {names.begin() + i, names.end()};
  }
  return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(unwinders)

BOOST_AUTO_TEST_CASE(the_fork_safe_unwinder_sees_the_same_callers) {
  loopsan::stack_init(nullptr);  // finds libgcc's unwinder, as at start-up
  auto with_libunwind = functions_of(request_handler(false));
  auto with_libgcc = functions_of(request_handler(true));
  auto a = from(with_libunwind, "capture_in_handler");
  auto b = from(with_libgcc, "capture_in_handler");
  BOOST_REQUIRE_MESSAGE(a.size() >= 3u, "libunwind: " << with_libunwind.size() << " frames");
  BOOST_REQUIRE_MESSAGE(b.size() >= 3u, "libgcc: " << with_libgcc.size() << " frames");
  BOOST_TEST(b[1].find("request_handler") != std::string::npos, b[1]);
  BOOST_TEST(a == b, "the callers differ between unwinders");
}

BOOST_AUTO_TEST_SUITE_END()
