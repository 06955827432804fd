// The frame of a finding that a person acts on, from what the agent has in the process: symbol
// table names and module paths for native frames (no DWARF: that is the CLI's job, offline),
// file:line for Python and JavaScript frames. Used by the stderr line and by the excerpt a test
// harness puts in a failure message. tools/loopsan/guilty_frame.cc is the CLI's fuller version
// (it adds the source line and sees through inlined library code).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "agent/report/finding.h"

namespace loopsan {

using SymbolizedStacks = std::vector<std::pair<std::string, std::vector<Frame>>>;

// "function (file.py:12)", "function (module.so)", or "unknown location".
std::string guilty_frame(const Finding& finding, const SymbolizedStacks& stacks);

}  // namespace loopsan
