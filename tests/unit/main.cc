#define BOOST_TEST_MODULE loopsan_unit
#include <boost/test/unit_test.hpp>
