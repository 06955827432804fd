// Suppressions: findings the user has accepted, from the file named by `suppressions=`.
//
// One rule per line, `kind:pattern` (kind is a finding kind such as blocking-call, or `*`);
// `#` starts a comment. The pattern is a shell glob matched against every frame of the
// finding: native function names (demangled), module file names, Python function names and
// Python file paths. Examples:
//
//   blocking-call:legacy_sync_client::*      # a known blocking client, being replaced
//   unretrieved-exception:libthirdparty.so
//   *:*/vendor/*.py
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

}  // namespace loopsan::suppressions
