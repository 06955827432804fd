#include <boost/test/unit_test.hpp>

#include "agent/runtimes/python_bridge.h"

BOOST_AUTO_TEST_SUITE(python_bridge)

BOOST_AUTO_TEST_CASE(parses_cpython_dump_traceback_output) {
  const std::string dump =
      "Stack (most recent call first):\n"
      "  File \"/srv/app.py\", line 12 in handler\n"
      "  File \"/usr/lib/python3.11/asyncio/events.py\", line 80 in _run\n"
      "  File \"<frozen runpy>\", line ??? in <module>\n"
      "  File \"/odd\\xe9 \\\"name\\\".py\", line 3 in f\n"
      "  ...\n";
  auto frames = loopsan::python::parse_dump(dump);
  BOOST_REQUIRE(frames.size() == 4u);
  BOOST_TEST(frames[0].function == "handler");
  BOOST_TEST(frames[0].file == "/srv/app.py");
  BOOST_TEST(frames[0].line == 12);
  BOOST_TEST(frames[1].function == "_run");
  BOOST_TEST(frames[2].line == -1);
  BOOST_TEST(frames[2].function == "<module>");
  BOOST_TEST(frames[3].line == 3);
}

BOOST_AUTO_TEST_CASE(no_python_frame) {
  BOOST_TEST(loopsan::python::parse_dump("Stack (most recent call first):\n  <no Python frame>\n")
                 .empty());
  BOOST_TEST(loopsan::python::parse_dump("").empty());
}

BOOST_AUTO_TEST_SUITE_END()
