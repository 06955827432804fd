// The report file: <report_dir>/loopsan.<exe>.<pid>.jsonl, created at the first finding
// (or at start with report_always=1) with O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, mode 0600.
//
// Every record is one complete line written with a single write(), so a reader can use a file
// left by a process killed at any moment. The host may close every descriptor it has (daemons,
// subprocess children, close_range()): before each write the descriptor is checked against the
// file's device and inode, and the file is reopened if it is gone.
#pragma once

#include <cstddef>
#include <string>

namespace loopsan::report_file {

// Fixes the directory (report_dir or the working directory at start).
void init();

// Appends one record (a JSON object, without newline). Creates the file, with its start line,
// on first use. Returns false if the record could not be written anywhere.
bool append(const std::string& json);

// For fatal-signal handlers and exit paths: writes `data` (a complete line with its newline)
// only if the file already exists; no allocation, no lock wait.
bool append_raw_signal_safe(const char* data, size_t len);

bool is_open();
// The file's path ("" before it is created). Not for signal handlers.
std::string path();
// The path in a static buffer, for signal-safe messages ("" if none).
const char* path_cstr();

// Pushes the file to storage (fdatasync); for loopsan_flush().
void sync();

// Creates the file now (report_always=1).
void create_now();

// In a forked child: forget the parent's file (the child writes its own).
void reset_after_fork();

}  // namespace loopsan::report_file
