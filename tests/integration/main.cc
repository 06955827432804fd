#define BOOST_TEST_MODULE loopsan_integration
#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>

#include "tests/support/harness.h"

// Temporary report directories are removed when every test passed, kept for a post-mortem
// otherwise.
struct TempDirCleanup {
  ~TempDirCleanup() {
    using namespace boost::unit_test;
    if (results_collector.results(framework::master_test_suite().p_id).passed()) {
      loopsan::test::remove_temp_dirs();
    }
  }
};
BOOST_TEST_GLOBAL_FIXTURE(TempDirCleanup);
