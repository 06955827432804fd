// How the CLI's text names frames and picks the guilty one, on hand-made report frames: the
// cases that real victims do not reach (operators, lambdas in long names, -O0 header frames,
// stacks without the interpreter's eval loop).
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "tools/loopsan/guilty_frame.h"
#include "tools/loopsan/stack_text.h"

using loopsan::cli::can_merge_python;
using loopsan::cli::guilty_frame;
using loopsan::cli::short_name;
using loopsan::cli::SourceLocations;
using nlohmann::json;

BOOST_AUTO_TEST_SUITE(stack_text)

BOOST_AUTO_TEST_CASE(short_names_keep_operators_and_the_function_name) {
  BOOST_TEST(short_name("std::vector<int, std::allocator<int> >::push_back(int const&)") ==
             "std::vector<…>::push_back(int const&)");
  BOOST_TEST(short_name("std::ostream::operator<<(int)") == "std::ostream::operator<<(int)");
  BOOST_TEST(short_name("bool operator<=(A const&, B const&)") ==
             "bool operator<=(A const&, B const&)");
  BOOST_TEST(short_name("x::operator< <int>(int)") == "x::operator< <…>(int)");
  // Over 100 characters, only the function's own parameter list folds: the anonymous
  // namespace and the lambda's enclosing function stay.
  std::string params(90, 'p');
  BOOST_TEST(short_name("(anonymous namespace)::Server::handle(" + params + ")") ==
             "(anonymous namespace)::Server::handle(…)");
  BOOST_TEST(short_name("ns::Foo::bar(int)::{lambda(int)#1}::operator()(" + params + ") const") ==
             "ns::Foo::bar(int)::{lambda(int)#1}::operator()(…) const");
}

BOOST_AUTO_TEST_CASE(guilty_frame_skips_runtimes_and_library_frames) {
  SourceLocations none;
  json finding = {
      {"stack",
       {{{"ip", "0x1"},
         {"module", "/lib/x86_64-linux-gnu/libc.so.6"},
         {"offset", "0x10"},
         {"function", "nanosleep"}},
        {{"ip", "0x2"},
         {"module", "/srv/app"},
         {"offset", "0x20"},
         {"function", "void std::__invoke_impl<void, F>(std::__invoke_other, F&&)"}},
        {{"ip", "0x3"}, {"module", "/srv/app"}, {"offset", "0x30"}, {"function", "handler()"}}}}};
  BOOST_TEST(guilty_frame(finding, none) == "handler() (app)");
  // A user binary whose name starts with "node" is still the user's.
  finding["stack"][2]["module"] = "/srv/nodeagent";
  BOOST_TEST(guilty_frame(finding, none) == "handler() (nodeagent)");
}

BOOST_AUTO_TEST_CASE(python_stacks_merge_only_around_an_eval_loop) {
  json python = {{{"function", "f"}, {"file", "/app/a.py"}, {"line", 3}}};
  json native = {{{"ip", "0x1"},
                  {"module", "/usr/bin/python3.11"},
                  {"offset", "0x10"},
                  {"function", "time_sleep"}}};
  BOOST_TEST(!can_merge_python({{"stack", native}, {"python_stack", python}}));
  native.push_back({{"ip", "0x2"},
                    {"module", "/usr/bin/python3.11"},
                    {"offset", "0x20"},
                    {"function", "_PyEval_EvalFrameDefault"}});
  BOOST_TEST(can_merge_python({{"stack", native}, {"python_stack", python}}));
  BOOST_TEST(!can_merge_python({{"stack", "not a stack"}, {"python_stack", python}}));
}

BOOST_AUTO_TEST_SUITE_END()
