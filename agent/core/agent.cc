#include "agent/core/agent.h"

#include <sys/auxv.h>

#include <cstdio>
#include <cstdlib>

#include "agent/base/text.h"
#include "agent/runtimes/cxx_exceptions.h"
#include "agent/report/fatal_signals.h"
#include "agent/report/finding_table.h"
#include "agent/detectors/future_tracker.h"
#include "agent/base/log.h"
#include "agent/core/loop_tracker.h"
#include "agent/base/options.h"
#include "agent/core/process_info.h"
#include "agent/runtimes/python_hooks.h"
#include "agent/report/report_file.h"
#include "agent/report/reporter.h"
#include "agent/stacks/stack.h"
#include "agent/report/summary.h"
#include "agent/report/suppressions.h"
#include "agent/base/sys.h"
#include "agent/core/thread_registry.h"
#include "agent/base/thread_state.h"
#include "agent/detectors/uncaught.h"

namespace loopsan::agent {

int g_active = 0;

namespace {

RealFunctions real_functions;

void load_options() {
  std::vector<std::string> warnings;
  if (const char* text = getenv("LOOPSAN_OPTIONS")) {
    parse_options(text, mutable_options(), warnings);
  }
  for (const std::string& w : warnings) log_line(cat("warning: LOOPSAN_OPTIONS: ", w));
  if (options().help) {
    std::string help = options_help();
    sys::write_all(2, help.data(), help.size());
  }
}

// Exit status override (exitcode=N) shared by exit() and _exit().
int final_status(int status) {
  int64_t code = options().exitcode;
  return (code != 0 && finding_table::unique_findings() > 0) ? static_cast<int>(code) : status;
}

}  // namespace

void init(int argc, char** argv, const void* own_code, const RealFunctions& real) {
  // Set-user-ID and similar programs: the environment is not the user's to trust.
  if (getauxval(AT_SECURE) != 0) return;
  ReentryGuard guard;
  real_functions = real;
  load_options();
  process_info::init(argc, argv);
  stack_init(own_code);
  loop_tracker::init();
  suppressions::init();
  report_file::init();
  registry::register_main_thread();
  fatal_signals::install(real.sigaction);
  uncaught::install(real.set_terminate);
  if (options().python_stacks) python_hooks::init();
  if (options().report_always) report_file::create_now();
  g_active = 1;
}

bool same_process() {
  return sys::getpid() == process_info::pid();
}

void after_fork_child() {
  if (!active()) return;
  ReentryGuard guard;
  process_info::reset_after_fork();
  report_file::reset_after_fork();
  finding_table::reset_after_fork();
  reporter::reset_after_fork();
  summary::reset_after_fork();
  registry::reset_after_fork();
  cxx_exceptions::reset_after_fork();
  future_tracker::reset_after_fork();
  stack_reset_after_fork();
  if (options().report_always) report_file::create_now();
}

void thread_exiting() {
  if (!active()) return;
  ReentryGuard guard;
  registry::thread_exiting();
  cxx_exceptions::thread_exiting();
}

void before_exec() {
  if (!active() || !same_process()) return;
  ReentryGuard guard;
  summary::write(summary::How::kExec, 0);
}

void exec_failed() {
  if (!active() || !same_process()) return;
  summary::rearm();
}

void run_exit_detectors() {
  if (!active() || !same_process()) return;
  ReentryGuard guard;
  future_tracker::check_at_exit();
}

void at_exit(int status) {
  if (!active() || !same_process()) return;
  ReentryGuard guard;
  summary::write(summary::How::kExit, status);
  int final = final_status(status);
  if (final != status && real_functions.underscore_exit != nullptr) {
    // exit() has already chosen its status; only _exit() can change it now. stdio is flushed
    // after exit handlers, so flush it here first.
    fflush(nullptr);
    real_functions.underscore_exit(final);
  }
}

int at_underscore_exit(int status) {
  if (!active() || !same_process()) return status;
  ReentryGuard guard;
  summary::write(summary::How::kExit, status);
  return final_status(status);
}

}  // namespace loopsan::agent
