// Offline source locations for native frames: module + offset -> file:line, through binutils'
// addr2line when it is installed and the module has debug information. Reports carry module,
// offset and build-id for exactly this.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace loopsan::cli {

struct SourceLocation {
  std::string file;
  int line = 0;
};

class Addr2Line {
 public:
  // Queues one frame; resolve() then looks every queued frame up, one process per module.
  void add(const std::string& module, unsigned long offset);
  void resolve();
  // Null when unknown.
  const SourceLocation* find(const std::string& module, unsigned long offset) const;

 private:
  std::map<std::string, std::vector<unsigned long>> pending_;
  std::map<std::pair<std::string, unsigned long>, SourceLocation> found_;
};

// Runs argv[0] (looked up in PATH) and returns its standard output; false if it could not run.
bool run_and_capture(const std::vector<std::string>& argv, std::string& out);

}  // namespace loopsan::cli
