// The user's own guilty frame of a finding, the way a compiler error points at a line:
// "refresh_config (server.cc:11)". Printed first under a finding, in `loopsan report` and in
// `loopsan run`'s summary; the primary location of a SARIF result; the frame a generated
// suppression rule names.
#pragma once

#include <initializer_list>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/loopsan/source_locations.h"

namespace loopsan::cli {

// The frame guilty_frame() chose, with what each consumer needs of it.
struct GuiltyFrame {
  const nlohmann::json* frame = nullptr;  // null: none found
  std::string stack;                      // the field it is in ("python_stack", "stack", ...)
  int index = 0;                          // its index in that stack (innermost is 0)
  bool script = false;                    // a Python or JavaScript frame
  std::string function;  // the user's function: for a native frame, its inlined level's
  std::string file;      // full path; empty when unknown
  long line = 0;         // 0 when unknown
  std::string text;      // "function (file.cc:11)"
  explicit operator bool() const { return frame != nullptr; }
};

// The stacks guilty_frame() looks in, in order.
inline constexpr std::initializer_list<const char*> kGuiltyStacks = {
    "python_stack", "js_stack", "throw_stack", "stack", "sampled_stack"};

// The innermost Python frame outside the standard library (or JavaScript frame outside
// node's own), else the innermost native frame outside the runtimes, at its innermost inlined
// function's line when DWARF says; in the stacks `keys` of `finding`, in that order (by
// default where an exception was thrown comes before where it was dropped). `named`: only a
// frame whose own name is known (for a native frame, its symbol-table name): what a
// suppression rule can match.
GuiltyFrame find_guilty_frame(const nlohmann::json& finding, const SourceLocations& lines,
                              std::initializer_list<const char*> keys = kGuiltyStacks,
                              bool named = false);

// find_guilty_frame()'s text; empty when every frame is the runtimes'.
std::string guilty_frame(const nlohmann::json& finding, const SourceLocations& lines);

}  // namespace loopsan::cli
