// The process's life as the agent sees it: start-up, fork, exec and the ways a process ends.
// Each phase runs over the module table (core/module.h).
#include <pthread.h>
#include <sys/auxv.h>

#include <cstdio>
#include <cstdlib>

#include "agent/base/log.h"
#include "agent/base/options.h"
#include "agent/base/sys.h"
#include "agent/base/text.h"
#include "agent/core/module.h"
#include "agent/core/process_info.h"
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

// Fork handlers, registered with pthread_atfork at start-up, before the host registers its
// own: glibc runs prepare handlers in reverse order of registration, so ours runs last, after
// the host's prepare handlers have done whatever agent work they cause, and ours run first in
// the parent and the child. A vfork()/posix_spawn child runs none of them, as it must not.
// Whether the prepare handler held the locks: fork() runs the three handlers on one thread,
// under glibc's own lock.
bool forking = false;

void before_fork() {
  forking = active() && same_process() && tls_state.guard == 0;
  if (!forking) return;
  ++tls_state.guard;
  for (const Module* m = modules::end(); m != modules::begin();) {
    --m;
    if (m->before_fork != nullptr) m->before_fork();
  }
}

void after_fork_parent() {
  if (!forking) return;
  for (const Module* m = modules::begin(); m != modules::end(); ++m) {
    if (m->after_fork_parent != nullptr) m->after_fork_parent();
  }
  --tls_state.guard;
}

void after_fork_child() {
  if (!forking) return;
  ErrnoSaver errno_saver;
  for (const Module* m = modules::begin(); m != modules::end(); ++m) {
    if (m->after_fork_child != nullptr) m->after_fork_child();
  }
  if (options().report_always) report_file::create_now();
  --tls_state.guard;
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
    // The wrappers call out on every loop wait's return only if some module listens.
    if (m->loop_wait_ended != nullptr) g_loop_wait_end_wanted.store(true);
  }
  // pthread_atfork is not interposed: calling it directly is calling libc.
  pthread_atfork(before_fork, after_fork_parent, after_fork_child);
  if (options().report_always) report_file::create_now();
  g_active = 1;
}

bool same_process() {
  return sys::getpid() == process_info::pid();
}

void exec_starting() {
  if (!active() || !same_process()) return;
  ErrnoSaver errno_saver;
  ReentryGuard guard;
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
  summary::write(summary::How::kExit, status);
  return final_status(status);
}

}  // namespace loopsan::events
