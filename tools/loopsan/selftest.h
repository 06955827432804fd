// `loopsan selftest`: the canaries (canaries.def) and the command that runs them. A
// detector that silently stopped working gives false confidence (BlockHound's advice), so
// each detector proves it is live on this machine with a small bundled bug it must report,
// at the right place; clean canaries prove that no detector fires on everything.
#pragma once

#include <string>

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

}  // namespace loopsan::cli
