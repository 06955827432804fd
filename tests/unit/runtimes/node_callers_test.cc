#include "agent/runtimes/node_callers.h"

#include <boost/test/unit_test.hpp>

namespace callers = loopsan::node::callers;
using callers::Kind;

BOOST_AUTO_TEST_SUITE(node_callers)

BOOST_AUTO_TEST_CASE(qualified_names_drop_return_types_templates_and_parameters) {
  BOOST_TEST(
      callers::qualified_name("node::fs::Fsync(v8::FunctionCallbackInfo<v8::Value> const&)") ==
      "node::fs::Fsync");
  BOOST_TEST(callers::qualified_name(
                 "v8::internal::MaybeHandle<v8::internal::Object> v8::internal::(anonymous "
                 "namespace)::HandleApiCallHelper<false>(v8::internal::Isolate*, unsigned long*, "
                 "int)") == "v8::internal::(anonymous namespace)::HandleApiCallHelper");
  BOOST_TEST(callers::qualified_name("void node::TaskQueue<v8::Task>::Push(std::unique_ptr<v8::"
                                     "Task, std::default_delete<v8::Task> >)") ==
             "node::TaskQueue<v8::Task>::Push");
  BOOST_TEST(callers::qualified_name("non-virtual thunk to v8::internal::Foo::Bar()") ==
             "v8::internal::Foo::Bar");
  BOOST_TEST(callers::qualified_name("Builtins_CallApiCallback") == "Builtins_CallApiCallback");
  BOOST_TEST(callers::qualified_name("uv__fs_work") == "uv__fs_work");
  // A lambda: the function it is in, which is what tells whose code it is.
  BOOST_TEST(callers::qualified_name("node::Foo::Run()::{lambda(int)#1}::operator()(int) const") ==
             "node::Foo::Run");
}

BOOST_AUTO_TEST_CASE(embedder_code_v8_code_and_the_callback_invokers) {
  // node's bindings, libuv, an addon: embedder code, even with V8 types in their signatures.
  BOOST_TEST((callers::classify_name("node::fs::Fsync(v8::FunctionCallbackInfo<v8::Value> "
                                     "const&)") == Kind::kEmbedder));
  BOOST_TEST((callers::classify_name("uv_fs_fsync") == Kind::kEmbedder));
  BOOST_TEST((callers::classify_name("Statement::JS_run(v8::FunctionCallbackInfo<v8::Value> "
                                     "const&)") == Kind::kEmbedder));
  BOOST_TEST((callers::classify_name("void node::TaskQueue<v8::Task>::Push(std::unique_ptr<v8::"
                                     "Task, std::default_delete<v8::Task> >)") == Kind::kEmbedder));
  // What calls API callbacks: V8's C++ and the builtin optimized code calls.
  BOOST_TEST((callers::classify_name("v8::internal::FunctionCallbackArguments::Call(v8::internal::"
                                     "CallHandlerInfo)") == Kind::kInvoker));
  BOOST_TEST((callers::classify_name("v8::internal::Builtin_HandleApiCall(int, unsigned long*, "
                                     "v8::internal::Isolate*)") == Kind::kInvoker));
  BOOST_TEST((callers::classify_name("Builtins_CallApiCallback") == Kind::kInvoker));
  // Everything else in V8: its locks, runtime functions, the heap, the public API, builtins.
  BOOST_TEST((callers::classify_name("v8::base::Mutex::Lock()") == Kind::kV8));
  BOOST_TEST((callers::classify_name("v8::internal::Runtime_AllocateInYoungGeneration(int, "
                                     "unsigned long*, v8::internal::Isolate*)") == Kind::kV8));
  BOOST_TEST((callers::classify_name(
                  "void v8::internal::CopyChars<unsigned char, unsigned "
                  "char>(unsigned char*, unsigned char const*, unsigned long)") == Kind::kV8));
  BOOST_TEST((callers::classify_name("v8::ArrayBuffer::GetBackingStore()") == Kind::kV8));
  BOOST_TEST(
      (callers::classify_name("Builtins_CEntry_Return1_ArgvOnStack_BuiltinExit") == Kind::kV8));
  BOOST_TEST(
      (callers::classify_name("cppgc::internal::Heap::FinalizeGarbageCollection()") == Kind::kV8));
  BOOST_TEST((callers::classify_name("") == Kind::kUnknown));
}

BOOST_AUTO_TEST_CASE(outside_node_nothing_is_called_from_an_api_callback) {
  // This test program has no V8: no invoker on its stack, whatever is there.
  BOOST_TEST(!callers::called_from_api_callback());
}

BOOST_AUTO_TEST_SUITE_END()
