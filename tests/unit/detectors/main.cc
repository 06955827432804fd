// Detector tests: the agent started in this process as the shim would start it, driven with
// synthetic events (agent/events.h) and no victim process; findings are caught by the
// reporter's sink instead of a report file.
#define BOOST_TEST_MODULE loopsan_detectors
#include <boost/test/unit_test.hpp>

#include <stdlib.h>

#include "agent/events.h"
#include "tests/unit/detectors/findings.h"

namespace {

struct StartAgent {
  StartAgent() {
    setenv("LOOPSAN_OPTIONS", "log_to_stderr=0:block_threshold_ms=30:python_stacks=0", 1);
    loopsan::events::process_started(0, nullptr, nullptr);
    loopsan::test::Findings::install();
  }
};

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(StartAgent);
