// The verdict on one canary's run of `loopsan selftest`: live, or broken and why, from how its
// process ended and the reports it left.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/loopsan/report_reader.h"
#include "tools/loopsan/selftest.h"

namespace loopsan::cli {

// How the canary's process ended.
struct Ending {
  bool timed_out = false;
  bool stopped = false;  // killed by the selftest once its finding was in (End::Stopped)
  int exit_status = -1;  // when it exited
  int signal = 0;        // when a signal ended it (ours after a timeout included)
  double seconds = 0;
};

struct Verdict {
  bool live = false;
  std::string why;                     // when not live: "no finding", "wrong frame ...", ...
  std::string message;                 // the matching finding's message, when there is one
  std::vector<std::string> hooks_off;  // hooks no start line says were installed
};

// Judges one canary's run from how it ended and every report it left (its own, and its
// children's: the canaries end with a child whose start line lists the hooks installed late).
Verdict judge(const Canary& c, const Ending& ending, const std::vector<Report>& reports);

// True if `stack_holder` (a finding, or any part of one) has a frame, in any stack at any
// depth (the threads' stacks included), whose function names `function`: the name itself,
// or a qualified or demangled name with it as a whole identifier.
bool names_function(const nlohmann::json& stack_holder, const std::string& function);

}  // namespace loopsan::cli
