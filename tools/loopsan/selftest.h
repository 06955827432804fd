// `loopsan selftest`: the canaries (canaries.def) and the verdict on one canary's run. A
// detector that silently stopped working gives false confidence (BlockHound's advice), so
// each detector proves it is live on this machine with a small bundled bug it must report,
// at the right place; clean canaries prove that no detector fires on everything.
#pragma once

#include <signal.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/loopsan/report_reader.h"

namespace loopsan::cli {

enum class Runtime { Native, Python, Node };
enum class End { Exits, Aborts, Stopped };

struct Canary {
  Runtime runtime;
  const char* mode;
  const char* kind;   // "" for a clean canary
  const char* frame;  // "" for a clean canary
  const char* call;   // "" when not checked
  End ends;
};

inline constexpr Canary kCanaries[] = {
#define LOOPSAN_CANARY(runtime, mode, kind, frame, call, ends) \
  {Runtime::runtime, mode, kind, frame, call, End::ends},
#include "tools/loopsan/canaries.def"
#undef LOOPSAN_CANARY
};

// "native", "python", "node": the runtime's name in `--only`, `--require` and the JSON.
const char* runtime_name(Runtime r);

// "native/blocking-call".
std::string canary_name(const Canary& c);

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
  std::vector<std::string> hooks_off;  // hooks the start line reported false
};

// Judges one canary's run from how it ended and the reports it left (those of its own
// process; a clean canary's are every report it left).
Verdict judge(const Canary& c, const Ending& ending, const std::vector<Report>& reports);

// True if `stack_holder` (a finding, or any part of one) has a frame, in any stack at any
// depth (the threads' stacks included), whose function names `function`: the name itself,
// or a qualified or demangled name with it as a whole identifier.
bool names_function(const nlohmann::json& stack_holder, const std::string& function);

int selftest_command(const std::vector<std::string>& args);

}  // namespace loopsan::cli
