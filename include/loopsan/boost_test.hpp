// Boost.Test integration: every test case fails when loopsan found something while it ran.
//
//   #include <loopsan/boost_test.hpp>
//   using loopsan::testing::BoostTestFixture;    // in one file: the macro takes a plain name
//   BOOST_TEST_GLOBAL_FIXTURE(BoostTestFixture);
//
// and run the test program under loopsan (`loopsan run -- ./tests`, or loopsan_add_test). Each
// test case is one loopsan test (loopsan_test_begin/end): findings raised while it runs, on any
// thread, and repeats of earlier ones fail it, with loopsan's excerpt in the failure message:
//
//   error: in "suite/case": loopsan: 1 finding raised during this test
//   loopsan: blocking-call: nanosleep(50 ms) blocked the event loop of thread ...
//     at handler() (my_tests)
//     ...
//
// Header-only; nothing to link but Boost.Test. Without loopsan every test case passes
// unchecked and the fixture says so once on stderr (LOOPSAN_REQUIRED=1 fails them instead).
#pragma once

#include <boost/test/tree/fixture.hpp>
#include <boost/test/tree/test_unit.hpp>
#include <boost/test/tree/traverse.hpp>
#include <boost/test/tree/visitor.hpp>
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "loopsan/loopsan.h"
#include "loopsan/testing.hpp"

namespace loopsan::testing {

namespace boost_test_detail {

// Opens the loopsan test before the case's other fixtures and ends it after their teardown,
// while Boost.Test still runs that case: an error raised here is the case's.
class CaseFixture : public boost::unit_test::test_unit_fixture {
 public:
  explicit CaseFixture(std::string name) : name_(std::move(name)) {}
  void setup() override { loopsan_test_begin(name_.c_str()); }
  void teardown() override {
    if (!loopsan_active()) {
      if (required()) BOOST_ERROR(not_active_message());
      return;
    }
    unsigned long long findings = loopsan_test_end();
    if (findings != 0) BOOST_ERROR(failure_message(findings));
  }

 private:
  std::string name_;
};

class AddToEveryCase : public boost::unit_test::test_tree_visitor {
 public:
  void visit(boost::unit_test::test_case const& tc) override {
    auto& fixtures = const_cast<boost::unit_test::test_case&>(tc).p_fixtures;
    fixtures->insert(fixtures->begin(),
                     boost::unit_test::test_unit_fixture_ptr(new CaseFixture(tc.full_name())));
  }
};

}  // namespace boost_test_detail

// The global fixture: constructed when the master suite starts, it gives every test case the
// fixture above.
class BoostTestFixture {
 public:
  BoostTestFixture() {
    if (!loopsan_active()) fprintf(stderr, "%s\n", not_active_message());
    boost_test_detail::AddToEveryCase visitor;
    boost::unit_test::traverse_test_tree(boost::unit_test::framework::master_test_suite(), visitor,
                                         /*ignore_status=*/true);
  }
};

}  // namespace loopsan::testing
