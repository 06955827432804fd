// The user's own guilty frame of a finding, the way a compiler error points at a line:
// "refresh_config (server.cc:11)". Printed first under a finding, in `loopsan report` and in
// `loopsan run`'s summary.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "tools/loopsan/source_locations.h"

namespace loopsan::cli {

// The innermost Python frame outside the standard library (or JavaScript frame outside
// node's own), else the innermost native frame outside the runtimes, at its innermost inlined
// function's line when DWARF says. Where an exception was thrown comes before where it was
// dropped. Empty when every frame is the runtimes'.
std::string guilty_frame(const nlohmann::json& finding, const SourceLocations& lines);

}  // namespace loopsan::cli
