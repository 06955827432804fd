// The process's life as the agent sees it: start-up, fork, exec and the ways a process ends.
// Each phase runs over the module table (core/module.h).
#include <sys/auxv.h>

#include <cstdio>
#include <cstdlib>

#include "agent/base/fork_gate.h"
#include "agent/base/log.h"
#include "agent/base/options.h"
#include "agent/base/sys.h"
#include "agent/base/text.h"
#include "agent/core/module.h"
#include "agent/core/process_info.h"
#include "agent/core/watchdog.h"
#include "agent/report/timeline.h"
#include "agent/events.h"
#include "agent/report/finding_table.h"
#include "agent/report/report_file.h"
#include "agent/report/summary.h"

namespace loopsan::events {

int g_active = 0;

namespace {

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

void process_started(int argc, char** argv, const void* own_code) {
  // Set-user-ID and similar programs: the environment is not the user's to trust.
  if (getauxval(AT_SECURE) != 0) return;
  ReentryGuard guard;
  load_options();
  interception::resolve_all();
  StartInfo start{argc, argv, own_code};
  for (const Module* m = modules::begin(); m != modules::end(); ++m) {
    if (m->init != nullptr) m->init(start);
  }
  if (options().report_always) report_file::create_now();
  g_active = 1;
}

bool same_process() {
  return sys::getpid() == process_info::pid();
}

// fork(): see base/fork_gate.h for why no lock is held across it and nothing waits for it. A
// vfork()/posix_spawn child runs none of this, as it must not.
namespace {
// The forking thread's, between its two calls.
__thread bool forking __attribute__((tls_model("initial-exec")));
__thread bool forked_inside_agent __attribute__((tls_model("initial-exec")));
}  // namespace

void fork_starting() {
  forking = active() && same_process();
  if (!forking) return;
  bool inside_agent = tls_state.guard != 0;
  forked_inside_agent = inside_agent;
  // The host's own fork handlers run on this thread during the fork: agent work they cause
  // passes through (the guard), and this thread does not count as agent work itself.
  ++tls_state.guard;
  fork_gate::wait_for_quiet_moment(inside_agent);
}

void fork_ended(pid_t pid) {
  if (!forking) return;
  if (pid != 0) {
    --tls_state.guard;
    return;
  }
  ErrnoSaver errno_saver;
  fork_gate::fork_ended_in_child(forked_inside_agent);
  for (const Module* m = modules::begin(); m != modules::end(); ++m) {
    if (m->after_fork_child != nullptr) m->after_fork_child();
  }
  if (options().report_always) report_file::create_now();
  --tls_state.guard;
}

void exec_starting() {
  if (!active() || !same_process()) return;
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  // The timeline's undrained events first (the summary is the report's last line); as at
  // _exit(), skipped inside a signal handler or a vfork child (drain_at_exit checks).
  timeline::drain_at_exit();
  summary::write(summary::How::kExec, 0);
}

void exec_failed() {
  if (!active() || !same_process()) return;
  summary::rearm();
}

void process_exit_checks() {
  if (!active() || !same_process()) return;
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  for (const Module* m = modules::begin(); m != modules::end(); ++m) {
    if (m->at_exit != nullptr) m->at_exit();
  }
}

void process_exiting(int status) {
  if (!active() || !same_process()) return;
  ReentryGuard guard;
  watchdog::stop();  // no stall is judged while the process tears itself down
  for (const Module* m = modules::begin(); m != modules::end(); ++m) {
    if (m->after_exit != nullptr) m->after_exit();
  }
  summary::write(summary::How::kExit, status);
  int final = final_status(status);
  if (final != status) {
    // exit() has already chosen its status; only _exit() can change it now. stdio is flushed
    // after exit handlers, so flush it here first.
    fflush(nullptr);
    if (auto real_exit = REAL(_exit)) real_exit(final);
  }
}

int process_exiting_now(int status) {
  if (!active() || !same_process()) return status;
  ErrnoSaver errno_saver;
  ReentryGuard guard;
  watchdog::stop();
  // _exit() is async-signal-safe and often called from a handler: the drain allocates and
  // locks, so drain_at_exit() skips it there (and in a vfork child).
  timeline::drain_at_exit();
  summary::write(summary::How::kExit, status);
  return final_status(status);
}

}  // namespace loopsan::events
