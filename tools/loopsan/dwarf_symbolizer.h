// Offline source locations for native frames with elfutils' libdwfl: module + offset -> the
// function, file and line at that address, and the chain of functions inlined there, each with
// its own name (the DWARF of the module, or of its separate debug file found by build-id under
// /usr/lib/debug/.build-id or by .gnu_debuglink, as Debian's -dbgsym packages install them).
// Modules are opened once and cached; nothing here runs inside the host.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tools/loopsan/source_location.h"

namespace loopsan::cli {

class DwarfSymbolizer {
 public:
  DwarfSymbolizer();
  ~DwarfSymbolizer();
  DwarfSymbolizer(const DwarfSymbolizer&) = delete;
  DwarfSymbolizer& operator=(const DwarfSymbolizer&) = delete;

  // The locations at return address `offset` of `module` (an ELF file; offsets as in reports:
  // relative to its load bias). Innermost inlined function first, the function that really
  // contains the address last. A module without debug information gives its symbol-table name
  // and no file:line; a missing module gives nothing.
  std::vector<SourceLocation> locate(const std::string& module, uint64_t offset);

 private:
  struct Module;
  Module* open(const std::string& path);
  std::map<std::string, std::unique_ptr<Module>> modules_;
};

}  // namespace loopsan::cli
