// Turns a detector's Finding into a report line: deduplicates it, symbolizes its stacks,
// writes it to the report file and, with log_to_stderr=1, prints one line on stderr.
#pragma once

#include <cstdint>
#include <string>

#include "agent/report/finding.h"

namespace loopsan::reporter {

// Call with no agent lock held (symbolization takes the loader's lock) and with the
// re-entrancy guard set. Returns true if the finding was new (written), false for a repeat.
bool submit(Finding& finding);

// The raw hash submit() gives a finding of `kind` and `identity` whose only stack is a native
// one named `stack_name` with these return addresses (no Python or JavaScript stack).
uint64_t native_raw_hash(Kind kind, const std::string& identity, const char* stack_name,
                         const uintptr_t* ips, int size);

// Where finished report lines go instead of the report file and stderr, for unit tests that
// drive detectors with synthetic events (Seastar's stall detector has the same seam: an
// injectable report function its test counts). Null (the default) restores the file.
using LineSink = void (*)(const std::string& line);
void set_sink(LineSink sink);

// Unique findings so far in this process (loopsan_findings_count()).
uint64_t findings_count();

void reset_after_fork();

// Stable 64-bit FNV-1a, for finding ids.
uint64_t fnv1a(const void* data, size_t len, uint64_t seed = 0xcbf29ce484222325ull);

}  // namespace loopsan::reporter
