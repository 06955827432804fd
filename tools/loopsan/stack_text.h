// Stacks as `loopsan report` prints them for people. The default text names C++ functions
// short (template arguments as <…>), prints module basenames and folds runs of library
// internals; the full form (--full-stacks) prints every frame whole, as sanitizers do.
#pragma once

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/loopsan/source_locations.h"

namespace loopsan::cli {

// Every template argument list becomes <…>, and a parameter list that is still long becomes
// (…). `operator<`, `operator<<` and `operator<=` are not templates.
std::string short_name(const std::string& name);

// Native frames, each preceded by the functions inlined at its address.
void print_native_stack(std::ostream& out, const nlohmann::json& frames,
                        const SourceLocations& lines, bool full);
void print_python_stack(std::ostream& out, const nlohmann::json& frames);
void print_js_stack(std::ostream& out, const nlohmann::json& frames);

// The stacks a finding (or one of its threads) may carry, as (field, heading), in the order
// every format prints them.
const std::vector<std::pair<std::string, std::string>>& stack_titles();

// True when a finding's native and Python stacks can print as one.
bool can_merge_python(const nlohmann::json& finding);

// One frame of a merged Python + native stack: a frame of "python_stack" or of "stack".
struct MergedFrame {
  const nlohmann::json* frame;
  bool python;
};

// The frames print_merged_python_stack() prints, innermost first (without the blocking call's
// own line), for a finding can_merge_python() accepts.
std::vector<MergedFrame> merged_python_stack(const nlohmann::json& finding);

// A Python finding's two stacks as one, the way py-spy --native shows them, top down: the
// blocking call, the builtin's C function, then each run of Python frames where the
// interpreter's eval loop ran them, with native frames of C extensions and libraries in
// between in place. The interpreter's internals are left out.
void print_merged_python_stack(std::ostream& out, const nlohmann::json& finding,
                               const SourceLocations& lines);

}  // namespace loopsan::cli
