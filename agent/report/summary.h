// The summary line, written once per process image: at exit, at _exit, before exec, and from
// fatal-signal handlers. Built in static storage with no allocation and no lock, so every one
// of those paths can use it.
#pragma once

namespace loopsan::summary {

enum class How { kExit, kSignal, kAbort, kExec };

// Writes the summary line to the report (if it exists, or report_always=1) and, with
// log_to_stderr=1 and at least one finding, a one-line summary on stderr. Only the first call
// per process image writes; `status` is the exit status (kExit) or the signal number.
void write(How how, int status);

// exec() failed after write(kExec): the image lives on and needs a summary at its real end.
void rearm();

void reset_after_fork();

}  // namespace loopsan::summary
