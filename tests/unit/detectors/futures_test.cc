// The unretrieved-exception detector for futures, driven through the event API: the events a
// libstdc++ future's result and exceptions raise under the shim, raised here by hand on real
// libstdc++ objects, and the C API's custom futures.
#include <boost/test/unit_test.hpp>

#include <exception>
#include <future>
#include <stdexcept>

#include "agent/events.h"
#include "tests/support/stacks.h"
#include "tests/unit/detectors/findings.h"

namespace events = loopsan::events;
using loopsan::test::Findings;
using loopsan::test::stack_has_function;

namespace {

void* object_of(const std::exception_ptr& e) {
  return *reinterpret_cast<void* const*>(&e);
}

// std::make_exception_ptr under the shim: __cxa_init_primary_exception raises exception_made
// here, so this function is where the exception was "thrown".
__attribute__((noinline)) std::exception_ptr make_disk_full_error() {
  std::exception_ptr e = std::make_exception_ptr(std::runtime_error("disk full"));
  events::exception_made(object_of(e), e.__cxa_exception_type());
  events::exception_captured(object_of(e));
  return e;
}

// A future's shared result holding that exception, as std::promise::set_exception leaves it.
std::__future_base::_Result<int>* failed_result() {
  auto* result = new std::__future_base::_Result<int>();
  events::future_result_created(result);
  result->_M_error = make_disk_full_error();
  return result;
}

void destroy(std::__future_base::_Result<int>* result) {
  events::future_result_destroying(result);
  delete result;  // what _Result::_M_destroy() does
}

__attribute__((noinline)) void save_upload_failed(const void* future) {
  events::custom_future_failed(future, "UploadError", "quota exceeded");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(futures_detector)

BOOST_AUTO_TEST_CASE(a_result_destroyed_with_an_unread_exception_is_reported) {
  Findings::take();
  destroy(failed_result());
  auto found = Findings::take();
  BOOST_REQUIRE_EQUAL(found.size(), 1u);
  const auto& f = found[0];
  BOOST_TEST(f["kind"] == "unretrieved-exception");
  BOOST_TEST(f["exception"]["type"] == "std::runtime_error");
  BOOST_TEST(f["exception"]["what"] == "disk full");
  BOOST_TEST(f["at_exit"] == false);
  BOOST_TEST(stack_has_function(f["throw_stack"], "make_disk_full_error"), f["throw_stack"].dump());
}

BOOST_AUTO_TEST_CASE(a_rethrown_exception_was_retrieved) {
  Findings::take();
  auto* result = failed_result();
  // future::get() hands the exception to its caller through std::rethrow_exception.
  events::exception_rethrown(object_of(result->_M_error));
  destroy(result);
  BOOST_TEST(Findings::take().empty());
}

BOOST_AUTO_TEST_CASE(a_value_result_is_no_finding) {
  Findings::take();
  auto* result = new std::__future_base::_Result<int>();
  events::future_result_created(result);
  result->_M_set(42);
  destroy(result);
  BOOST_TEST(Findings::take().empty());
}

BOOST_AUTO_TEST_CASE(a_custom_future_dropped_after_failing_is_reported) {
  Findings::take();
  int future = 0;
  events::custom_future_created(&future);
  save_upload_failed(&future);
  events::custom_future_destroyed(&future);
  auto found = Findings::take();
  BOOST_REQUIRE_EQUAL(found.size(), 1u);
  BOOST_TEST(found[0]["exception"]["type"] == "UploadError");
  BOOST_TEST(found[0]["message"].get<std::string>().find("a custom future") != std::string::npos);
  BOOST_TEST(stack_has_function(found[0]["throw_stack"], "save_upload_failed"));
}

BOOST_AUTO_TEST_CASE(a_custom_future_read_before_it_is_dropped_is_no_finding) {
  Findings::take();
  int future = 0;
  events::custom_future_created(&future);
  save_upload_failed(&future);
  events::custom_future_retrieved(&future);
  events::custom_future_destroyed(&future);
  BOOST_TEST(Findings::take().empty());
}

BOOST_AUTO_TEST_SUITE_END()
