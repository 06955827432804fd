// Offline source locations for native frames: module + offset -> file:line and the inlined
// functions there, through libdwfl (dwarf_symbolizer.h) when the module or its separate debug
// file has DWARF. Reports carry module, offset and build-id for exactly this.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/loopsan/dwarf_symbolizer.h"
#include "tools/loopsan/source_location.h"

namespace loopsan::cli {

class SourceLocations {
 public:
  // `debuginfo_dirs`: directories searched for separate debug files before the standard places
  // (see DwarfSymbolizer).
  explicit SourceLocations(const std::vector<std::string>& debuginfo_dirs = {})
      : dwarf_(debuginfo_dirs) {}

  // Queues one frame; resolve() then looks every queued frame up. `build_id` is the one the
  // report recorded: a module whose file now has another one was rebuilt or replaced since,
  // and its lines would be wrong, so its frames are not looked up (see changed_modules()).
  void add(const std::string& module, unsigned long offset, const std::string& build_id = "");
  // Queues every native frame of a finding's stacks, nested ones included.
  void add_finding(const nlohmann::json& finding);
  void resolve();
  // The source locations at that address, innermost inlined function first and the function
  // that really contains the address last; null when unknown.
  const std::vector<SourceLocation>* find(const std::string& module, unsigned long offset) const;
  // The same for a report's native frame, and nothing when the frame's build-id is not its
  // module's file's (another report may have been read with the file as it is now).
  const std::vector<SourceLocation>* find(const nlohmann::json& frame) const;

  // Modules left unsymbolized because their file's build-id is not the report's.
  const std::set<std::string>& changed_modules() const { return changed_; }

 private:
  DwarfSymbolizer dwarf_;
  std::map<std::string, std::vector<unsigned long>> pending_;
  std::map<std::pair<std::string, unsigned long>, std::vector<SourceLocation>> found_;
  std::map<std::string, std::string> build_ids_;  // of the files as they are now
  std::set<std::string> changed_;
};

}  // namespace loopsan::cli
