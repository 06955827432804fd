// Facts about this process for the report's start line and file name: pid, exe, argv, start
// time, and which hooks the shim could install.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace loopsan::process_info {

// At start-up (argv as the loader passed it to constructors; may be null).
void init(int argc, char** argv);
// In a forked child: new pid/ppid and start time, same exe and argv.
void reset_after_fork();

pid_t pid();
const std::string& exe_basename();  // for the report file name
int64_t elapsed_ms();
// CLOCK_MONOTONIC at start-up (sys::monotonic_ns), what elapsed_ms() counts from.
int64_t start_mono_ns();

// The shim reports each interceptor (and runtime bridge) it tried to install.
void set_hook(const char* name, bool installed);

// A library was loaded with RTLD_DEEPBIND (listed in the start line's "deepbind"). Returns
// true the first time `path` is noted.
bool note_deepbind(const std::string& path);
// The same list as the inside of a JSON array ("a","b"), for the summary: async-signal-safe,
// static storage, empty when none. Long lists are cut at a whole entry.
const char* deepbind_json(size_t* len);

// The complete start line (without the trailing newline).
std::string start_line_json();

}  // namespace loopsan::process_info
