// Offline source locations for native frames with elfutils' libdwfl: module + offset -> the
// function, file and line at that address, and the chain of functions inlined there, each with
// its own name (the DWARF of the module, or of its separate debug file found by build-id under
// /usr/lib/debug/.build-id or by .gnu_debuglink, as Debian's -dbgsym packages install them).
// Modules are opened once and cached, with an index by address of the scopes (functions,
// blocks, inlined calls) that lookups went through, and every answer is kept; nothing here
// runs inside the host.
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
  // `debuginfo_dirs`: directories searched for separate debug files before the standard places,
  // each the way /usr/lib/debug is: DIR/.build-id/xx/rest.debug by build-id, then the
  // .gnu_debuglink name under DIR (as DIR/<the module's directory>/NAME, ..., DIR/NAME).
  // The standard places stay: the module's directory and its .debug/, then /usr/lib/debug.
  // A relative directory is taken from the working directory; an empty one, or one with a colon
  // (the separator of libdwfl's search path), is ignored.
  explicit DwarfSymbolizer(const std::vector<std::string>& debuginfo_dirs = {});
  ~DwarfSymbolizer();
  DwarfSymbolizer(const DwarfSymbolizer&) = delete;
  DwarfSymbolizer& operator=(const DwarfSymbolizer&) = delete;

  // The locations at return address `offset` of `module` (an ELF file; offsets as in reports:
  // relative to its load bias). Innermost inlined function first, the function that really
  // contains the address last. A module without debug information gives its symbol-table name
  // and no file:line; a missing or unreadable module, or an offset outside it, gives nothing.
  std::vector<SourceLocation> locate(const std::string& module, uint64_t offset);

  // locate() for callers that keep only answers with a source line: nothing when no level has
  // a line. Where the line table has none for the address, it skips the symbol table (a linear
  // search of every symbol per address in libdwfl: the slow part for modules without DWARF).
  std::vector<SourceLocation> locate_lines(const std::string& module, uint64_t offset);

  // The module's GNU build-id in lowercase hex, as reports write it; empty when the file has
  // none or cannot be read.
  std::string build_id(const std::string& module);

 private:
  struct Search;
  struct Module;
  struct Answer;
  Module* open(const std::string& path);
  Answer& answer(Module* m, uint64_t offset);
  static void name_from_symbol_table(Module* m, uint64_t offset, Answer& a);

  std::unique_ptr<Search> search_;  // libdwfl's callbacks and the search path they point at
  std::map<std::string, std::unique_ptr<Module>> modules_;
};

}  // namespace loopsan::cli
