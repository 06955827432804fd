// `loopsan report --suppressions`: one suppression rule per distinct finding, naming the
// user's own frame, the way Valgrind's --gen-suppressions writes rules for what it reports.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "tools/loopsan/report_reader.h"
#include "tools/loopsan/source_locations.h"

namespace loopsan::cli {

// The rule (agent/report/suppressions.h's syntax) that silences `finding` and leaves other
// findings alone: `kind@file:function`, the frame guilty_frame() picks (a Python or
// JavaScript frame by its file, a native one by its module). Without a frame of the user's,
// the innermost frame outside loopsan, and `fallback` says so. Empty when no frame has a
// name to match.
std::string suppression_rule(const nlohmann::json& finding, const SourceLocations& lines,
                             bool* fallback = nullptr);

// Every finding's rule under a `#` line naming the finding; a rule shared by several
// findings is printed once, under all of their lines.
void print_suppressions(std::ostream& out, const std::vector<DistinctFinding>& findings,
                        const SourceLocations& lines);

}  // namespace loopsan::cli
