// LOOPSAN_OPTIONS parsing (sanitizer syntax) into a typed struct generated from options.def.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace loopsan {

struct Options {
  using BoolType = bool;
  using IntType = int64_t;
  using StringType = std::string;
#define LOOPSAN_OPTION(kind, name, def, min, max, help) kind##Type name = def;
#include "agent/base/options.def"
#undef LOOPSAN_OPTION
};

// Parses `text` over `options`, keeping the current value of any key that is unknown or has a
// bad value. Every problem adds one human-readable line to `warnings`; nothing throws.
void parse_options(std::string_view text, Options& options, std::vector<std::string>& warnings);

// One line per option: name, default, help. Used by help=1.
std::string options_help();

// The effective values as a JSON object, for the report's start line.
std::string options_json(const Options& options);

// The process-wide options, set once at start-up by the agent.
const Options& options();
Options& mutable_options();

}  // namespace loopsan
