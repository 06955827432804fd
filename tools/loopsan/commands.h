// The loopsan subcommands (DESIGN.md, "CLI").
#pragma once

#include <string>
#include <vector>

namespace loopsan::cli {

int run_command(const std::vector<std::string>& args);
int report_command(const std::vector<std::string>& args);
int selftest_command(const std::vector<std::string>& args);

// The prefix this program is installed in (its bin/..): the build tree is laid out the same.
std::string install_prefix();

// Where the shim is: next to this program's install (../lib/libloopsan.so), in the build
// tree as in an install tree.
std::string shim_path();

// Quotes a value for LOOPSAN_OPTIONS if it contains a separator.
std::string option_value(const std::string& v);

}  // namespace loopsan::cli
