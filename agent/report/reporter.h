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

// The hash of a finding's raw stacks that submit() deduplicates by: a detector that keeps it
// can count a later repeat with finding_table::count_if_known() before capturing anything.
uint64_t raw_hash(const Finding& finding);

// A native stack as a report writes it (a JSON array of frames), for a field that nests
// stacks (a loop stall's `samples`). Symbolizes: call with no agent lock held.
std::string stack_json(StackId stack);
std::string python_stack_json(const std::vector<python::PyFrame>& frames);
std::string js_stack_json(const std::vector<node::JsFrame>& frames);

// Where finished report lines go instead of the report file and stderr, for unit tests that
// drive detectors with synthetic events (Seastar's stall detector has the same seam: an
// injectable report function its test counts). Null (the default) restores the file.
using LineSink = void (*)(const std::string& line);
void set_sink(LineSink sink);

// Writes a record that is no finding (a test's line) where findings go: the sink or the file.
bool write_record(const std::string& json);

// Unique findings so far in this process (loopsan_findings_count()).
uint64_t findings_count();

void reset_after_fork();

// Stable 64-bit FNV-1a, for finding ids.
uint64_t fnv1a(const void* data, size_t len, uint64_t seed = 0xcbf29ce484222325ull);

}  // namespace loopsan::reporter
