// The module table (core/module.h): every stateful module of the agent and what it does at each
// phase of the process. Lower layers first.
#include <signal.h>

#include "agent/base/options.h"
#include "agent/core/loop_tracker.h"
#include "agent/core/module.h"
#include "agent/core/pools.h"
#include "agent/core/process_info.h"
#include "agent/core/thread_registry.h"
#include "agent/core/watchdog.h"
#include "agent/detectors/loop_stall.h"
#include "agent/detectors/pool_starvation.h"
#include "agent/report/episodes.h"
#include "agent/stacks/sampler.h"
#include "agent/detectors/future_tracker.h"
#include "agent/detectors/gil_contention.h"
#include "agent/detectors/thread_leak.h"
#include "agent/detectors/waits.h"
#include "agent/detectors/deadlock.h"
#include "agent/detectors/hung_wait.h"
#include "agent/detectors/uncaught.h"
#include "agent/interception/interception.h"
#include "agent/report/fatal_signals.h"
#include "agent/report/finding_table.h"
#include "agent/report/report_file.h"
#include "agent/report/reporter.h"
#include "agent/report/summary.h"
#include "agent/report/test_attribution.h"
#include "agent/report/suppressions.h"
#include "agent/runtimes/cpython_api.h"
#include "agent/detectors/blocking.h"
#include "agent/runtimes/cxx_exceptions.h"
#include "agent/runtimes/gil_waits.h"
#include "agent/runtimes/node_api.h"
#include "agent/runtimes/node_bridge.h"
#include "agent/runtimes/python_hooks.h"
#include "agent/runtimes/python_thread_dump.h"
#include "agent/stacks/stack.h"

// libstdc++'s std::set_terminate, for REAL(); the shim defines the wrapper (shim/cxx.cc).
extern "C" void (*_ZSt13set_terminatePFvvE(void (*)()))();

namespace loopsan::modules {
namespace {

const Module kTable[] = {
    {.name = "process_info",
     .init = [](const StartInfo& s) { process_info::init(s.argc, s.argv); },
     .after_fork_child = process_info::reset_after_fork},
    {.name = "stacks",
     .init = [](const StartInfo& s) { stack_init(s.own_code); },
     .after_fork_child = stack_reset_after_fork,
     .library_unloaded = library_unloaded},
    {.name = "loop_tracker",
     .init = [](const StartInfo&) { loop_tracker::init(); },
     .after_fork_child = loop_tracker::reset_after_fork},
    {.name = "suppressions", .init = [](const StartInfo&) { suppressions::init(); }},
    {.name = "report_file",
     .init = [](const StartInfo&) { report_file::init(); },
     .after_fork_child = report_file::reset_after_fork},
    {.name = "finding_table", .after_fork_child = finding_table::reset_after_fork},
    {.name = "reporter", .after_fork_child = reporter::reset_after_fork},
    {.name = "test_attribution", .after_fork_child = test_attribution::reset_after_fork},
    {.name = "summary", .after_fork_child = summary::reset_after_fork},
    {.name = "registry",
     .init = [](const StartInfo&) { registry::register_main_thread(); },
     .after_fork_child = registry::reset_after_fork,
     .thread_exiting = registry::thread_exiting},
    {.name = "fatal_signals",
     .init = [](const StartInfo&) { fatal_signals::install(REAL(sigaction)); }},
    {.name = "cxx_exceptions",
     .after_fork_child = cxx_exceptions::reset_after_fork,
     .thread_exiting = cxx_exceptions::thread_exiting},
    {.name = "future_tracker",
     .after_fork_child = future_tracker::reset_after_fork,
     .at_exit = future_tracker::check_at_exit},
    {.name = "blocking",
     .init =
         [](const StartInfo&) {
           events::g_block_threshold_ns.store(int64_t{options().block_threshold_ms} * 1000000);
         },
     .thread_exiting = blocking::thread_exiting,
     .loop_wait_ended = blocking::loop_waited},
    {.name = "episodes", .after_fork_child = episodes::reset_after_fork},
    {.name = "sampler", .after_fork_child = sampler::reset_after_fork},
    {.name = "watchdog", .after_fork_child = watchdog::reset_after_fork, .at_exit = watchdog::stop},
    {.name = "loop_stall",
     .after_fork_child = loop_stall::reset_after_fork,
     .thread_exiting = loop_stall::thread_exiting,
     .loop_wait_ended = loop_stall::loop_waited},
    {.name = "pools",
     .after_fork_child =
         [] {
           pools::reset_after_fork();
           pool_starvation::reset_after_fork();
         },
     .thread_exiting = pools::thread_exiting},
    {.name = "thread_leak",
     .after_fork_child = thread_leak::reset_after_fork,
     .after_exit = thread_leak::check_at_exit},
    {.name = "waits",
     .after_fork_child =
         [] {
           waits::reset_after_fork();
           deadlock::reset_after_fork();
           hung_wait::reset_after_fork();
         }},
    {.name = "uncaught",
     .init = [](const StartInfo&) { uncaught::install(REAL(_ZSt13set_terminatePFvvE)); }},
    {.name = "cpython",
     .init =
         [](const StartInfo&) {
           if (options().python_stacks) python_hooks::init();
         },
     .after_fork_child =
         [] {
           cpython::reset_after_fork();
           python_thread_dump::reset_after_fork();
         }},
    // After "cpython": the GIL's address needs the C API table it resolves.
    {.name = "gil_contention",
     .init = [](const StartInfo&) { gil_waits::init(); },
     .after_fork_child =
         [] {
           gil_waits::reset_after_fork();
           gil_contention::reset_after_fork();
         },
     .thread_exiting = gil_waits::thread_exiting},
    {.name = "node",
     .init = [](const StartInfo&) { node_api::init(); },
     .after_fork_child = node::reset_after_fork,
     .library_unloaded = node::library_unloaded},
};

}  // namespace

const Module* begin() {
  return kTable;
}
const Module* end() {
  return kTable + sizeof kTable / sizeof kTable[0];
}

}  // namespace loopsan::modules
