// Suppressions: findings the user has accepted, from the file named by `suppressions=`.
//
// One rule per line, `kind:pattern` (kind is a finding kind such as blocking-call, or `*`);
// `#` starts a comment. The pattern is a shell glob matched against every frame of the
// finding: native function names (demangled), module file names, Python function names and
// Python file paths, JavaScript function names and script names. Examples:
//
//   blocking-call:legacy_sync_client::*      # a known blocking client, being replaced
//   unretrieved-exception:libthirdparty.so
//   *:*/vendor/*.py
//
// A frame rule, `kind@file:function`, names one frame: the pattern after the colon must match
// a frame's function and the glob after `@` that same frame's file (a Python file path, a
// JavaScript script, a native frame's module path or file name). A bare function name such as
// Python's `run` is in many files; `blocking-call@*/app.py:run` is in one:
//
//   blocking-call@*/app.py:run
//   unretrieved-exception@server:handle_request(int)
//
// The `@` sits in the kind's field because that field held nothing but a kind before: no
// `kind:pattern` line meant anything else (any text may be in a glob, so a separator in the
// pattern could have been one). The file glob ends at the first colon not escaped with a
// backslash (`node\:internal/*`); as everywhere in a glob, `\` makes the next character
// literal. `loopsan report --suppressions` writes such rules.
#pragma once

#include <string>
#include <vector>

#include "agent/report/finding.h"
#include "agent/runtimes/python_bridge.h"
#include "agent/stacks/stack.h"

namespace loopsan::suppressions {

struct Rule {
  std::string kind;  // "*" for every kind
  std::string pattern;
  int line = 0;
  // A frame rule's file glob (`kind@file:function`); empty: `pattern` matches any frame's
  // function or file.
  std::string file;
};

// Parses a suppressions file. Bad lines are skipped; `problems` gets one entry per bad line.
// A rule for a kind that no detector emits yet is kept, so that a file written for a later
// version stays valid, and `warnings` says that it cannot match today.
std::vector<Rule> parse(const std::string& text, std::vector<std::string>& problems,
                        std::vector<std::string>& warnings);

// Reads options().suppressions at start-up. A missing file gets one warning on stderr, a
// malformed one a warning per problem (at most kMaxWarningLines, then a count of the rest); the
// program runs on with the rules that could be read.
constexpr int kMaxWarningLines = 10;
void init();

// True if a rule matches the finding's kind and one of its frames.
using NativeStacks = std::vector<std::pair<std::string, std::vector<Frame>>>;
bool suppressed(const Finding& finding, const NativeStacks& native);
bool matches(const Rule& rule, const Finding& finding, const NativeStacks& native);

}  // namespace loopsan::suppressions
