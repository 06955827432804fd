#include "tools/loopsan/dwarf_symbolizer.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <unordered_map>

namespace loopsan::cli {

namespace {

const Dwfl_Callbacks kOfflineCallbacks = {
    .find_elf = dwfl_build_id_find_elf,
    // Separate debug files: by build-id, then by .gnu_debuglink (libdwfl's standard search).
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = nullptr,
};

// libdwfl's default search path (DEFAULT_DEBUGINFO_PATH, which it does not export): the
// module's own directory, its .debug/ subdirectory, then /usr/lib/debug (.build-id/xx/rest.debug
// by build-id; by the .gnu_debuglink name, under the module's directory inside it).
constexpr char kDefaultDebuginfoPath[] = ":.debug:/usr/lib/debug";

std::string demangle(const char* name) {
  if (name == nullptr) return {};
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string result = status == 0 && out != nullptr ? out : name;
  free(out);
  return result;
}

// Demangled names by the address of the mangled one in the module's string table: the same
// functions (library templates above all) are inlined at many addresses, and demangling a long
// C++ name costs more than finding it.
using DemangledNames = std::unordered_map<const char*, std::string>;

// A function's name as people read it: the demangled linkage name (with its namespaces and
// parameters), else the plain name. Inlined instances name their abstract origin.
std::string function_name(Dwarf_Die* die, DemangledNames& demangled) {
  Dwarf_Attribute attr;
  const char* linkage = nullptr;
  if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) != nullptr ||
      dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr) != nullptr) {
    linkage = dwarf_formstring(&attr);
  }
  if (linkage != nullptr) {
    auto [it, added] = demangled.try_emplace(linkage);
    if (added) it->second = demangle(linkage);
    return it->second;
  }
  if (dwarf_attr_integrate(die, DW_AT_name, &attr) != nullptr) {
    const char* name = dwarf_formstring(&attr);
    if (name != nullptr) return name;
  }
  return {};
}

bool is_function(int tag) {
  return tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram;
}

// The DIEs whose children libdw's scope walk (dwarf_getscopes) looks into
// (libdw/libdw_visit_scopes.c, may_have_scopes).
bool may_have_scopes(Dwarf_Die* die) {
  switch (dwarf_tag(die)) {
    case DW_TAG_compile_unit:
    case DW_TAG_module:
    case DW_TAG_lexical_block:
    case DW_TAG_with_stmt:
    case DW_TAG_catch_block:
    case DW_TAG_try_block:
    case DW_TAG_entry_point:
    case DW_TAG_inlined_subroutine:
    case DW_TAG_subprogram:
    case DW_TAG_namespace:
    case DW_TAG_class_type:
    case DW_TAG_structure_type:
      return true;
    default:
      return false;
  }
}

// Calls visit(child) on the children of `parent` in order until it returns true (and then
// returns true). The children of an imported unit (dwz's partial units) stand in place of its
// DW_TAG_imported_unit, as in libdw's scope walk, which skips imported compile units (some gcc
// -flto versions make those).
template <typename Visit>
bool visit_children(Dwarf_Die* parent, const Visit& visit, int imports = 0) {
  Dwarf_Die child;
  if (dwarf_child(parent, &child) != 0) return false;
  do {
    if (dwarf_tag(&child) == DW_TAG_imported_unit) {
      Dwarf_Attribute attr;
      Dwarf_Die unit;
      if (imports < 8 && dwarf_attr(&child, DW_AT_import, &attr) != nullptr &&
          dwarf_formref_die(&attr, &unit) != nullptr && dwarf_tag(&unit) != DW_TAG_compile_unit &&
          visit_children(&unit, visit, imports + 1)) {
        return true;
      }
      continue;
    }
    if (visit(child)) return true;
  } while (dwarf_siblingof(&child, &child) == 0);
  return false;
}

// The DIEs directly in a scope (a unit, a function, a block) that have addresses, by address.
// dwarf_getscopes finds the scopes at an address by walking every DIE of the unit, at each level
// into the first DIE that contains the address; with an index of each level, binary searches
// find the same DIEs. Built when a search first goes through the scope.
class ScopeIndex {
 public:
  explicit ScopeIndex(Dwarf_Die* scope) {
    uint32_t order = 0;
    visit_children(scope, [&](Dwarf_Die& child) {
      Dwarf_Addr base = 0, begin = 0, end = 0;
      ptrdiff_t offset = 0;
      // dwarf_ranges (what dwarf_haspc reads), only for DIEs whose abbreviation says they have
      // addresses (DW_AT_high_pc with DW_AT_low_pc, or DW_AT_ranges): most DIEs are variables,
      // parameters, types and call sites, and reading their attributes costs more than that.
      if (dwarf_hasattr(&child, DW_AT_high_pc) || dwarf_hasattr(&child, DW_AT_ranges)) {
        while ((offset = dwarf_ranges(&child, offset, &base, &begin, &end)) > 0) {
          if (begin < end) ranges_.push_back(Range{begin, end, order, child});
        }
      }
      ++order;
      return false;
    });
    std::sort(ranges_.begin(), ranges_.end(),
              [](const Range& a, const Range& b) { return a.low < b.low; });
    reach_.reserve(ranges_.size());
    for (const Range& r : ranges_) {
      reach_.push_back(std::max(r.high, reach_.empty() ? r.high : reach_.back()));
    }
  }

  // The first DIE of the scope (in the scope's order) whose ranges contain pc, or null.
  const Dwarf_Die* find(Dwarf_Addr pc) const {
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), pc,
                               [](Dwarf_Addr pc, const Range& r) { return pc < r.low; });
    const Range* best = nullptr;
    // Ranges that start at or below pc, while one of them may still reach past it.
    for (size_t i = it - ranges_.begin(); i-- > 0 && reach_[i] > pc;) {
      const Range& r = ranges_[i];
      if (pc < r.high && (best == nullptr || r.order < best->order)) best = &r;
    }
    return best == nullptr ? nullptr : &best->die;
  }

 private:
  struct Range {
    Dwarf_Addr low, high;
    uint32_t order;  // the DIE's place in the scope: the first one wins, as in dwarf_getscopes
    Dwarf_Die die;
  };
  std::vector<Range> ranges_;      // by low
  std::vector<Dwarf_Addr> reach_;  // reach_[i]: the highest end of ranges_[0..i]
};

}  // namespace

struct DwarfSymbolizer::Search {
  std::string path;  // libdwfl's debuginfo_path: colon-separated directories
  char* path_ptr = nullptr;
  Dwfl_Callbacks callbacks = kOfflineCallbacks;
};

struct DwarfSymbolizer::Answer {
  std::vector<SourceLocation> chain;
  // No function in DWARF at the address: the line table's file:line, for the symbol table's
  // name that completes the answer (`named` once it is looked up).
  std::string file;
  int line = 0;
  bool named = true;
};

struct DwarfSymbolizer::Module {
  Dwfl* dwfl = nullptr;
  Dwfl_Module* module = nullptr;
  Dwarf_Addr bias = 0;           // where libdwfl placed the file: add to an offset from a report
  Dwarf_Addr low = 0, high = 0;  // its addresses there
  std::unordered_map<const void*, ScopeIndex> scopes;  // by the scope DIE's address
  std::unordered_map<uint64_t, Answer> answers;        // by offset
  DemangledNames demangled;
  ~Module() {
    if (dwfl != nullptr) dwfl_end(dwfl);
  }
};

DwarfSymbolizer::DwarfSymbolizer(const std::vector<std::string>& debuginfo_dirs)
    : search_(std::make_unique<Search>()) {
  for (const std::string& dir : debuginfo_dirs) {
    if (dir.empty()) continue;
    // libdwfl searches only absolute directories by build-id (and takes a relative one as a
    // subdirectory of the module's directory); a colon would split the path.
    std::error_code error;
    std::string absolute = std::filesystem::absolute(dir, error).lexically_normal().string();
    while (absolute.size() > 1 && absolute.back() == '/') absolute.pop_back();
    if (error || absolute.empty() || absolute.find(':') != std::string::npos) continue;
    search_->path += absolute + ":";
  }
  if (!search_->path.empty()) {
    search_->path += kDefaultDebuginfoPath;
    search_->path_ptr = search_->path.data();
    search_->callbacks.debuginfo_path = &search_->path_ptr;
  }
}

DwarfSymbolizer::~DwarfSymbolizer() = default;

DwarfSymbolizer::Module* DwarfSymbolizer::open(const std::string& path) {
  auto it = modules_.find(path);
  if (it != modules_.end()) return it->second.get();
  auto m = std::make_unique<Module>();
  // Only regular files: opening a FIFO would wait for a writer, a directory or a device is no
  // module (libdwfl reports those as errors, quietly, but a FIFO blocks in open()).
  struct stat st;
  bool regular = stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  if (regular) m->dwfl = dwfl_begin(&search_->callbacks);
  if (m->dwfl != nullptr) {
    dwfl_report_begin(m->dwfl);
    m->module = dwfl_report_offline(m->dwfl, path.c_str(), path.c_str(), -1);
    dwfl_report_end(m->dwfl, nullptr, nullptr);
    if (m->module != nullptr) {
      // The file's own addresses (what reports' offsets are) plus where libdwfl put it.
      GElf_Addr bias = 0;
      if (dwfl_module_getelf(m->module, &bias) == nullptr) m->module = nullptr;
      m->bias = bias;
    }
    if (m->module != nullptr) {
      dwfl_module_info(m->module, nullptr, &m->low, &m->high, nullptr, nullptr, nullptr, nullptr);
    }
  }
  Module* raw = m.get();
  modules_.emplace(path, std::move(m));
  return raw;
}

std::string DwarfSymbolizer::build_id(const std::string& path) {
  Module* m = open(path);
  if (m == nullptr || m->module == nullptr) return {};
  const unsigned char* bits = nullptr;
  GElf_Addr vaddr = 0;
  int n = dwfl_module_build_id(m->module, &bits, &vaddr);
  std::string hex;
  static const char kDigits[] = "0123456789abcdef";
  for (int i = 0; i < n; ++i) {
    hex += kDigits[bits[i] >> 4];
    hex += kDigits[bits[i] & 15];
  }
  return hex;
}

DwarfSymbolizer::Answer& DwarfSymbolizer::answer(Module* m, uint64_t offset) {
  auto [it, added] = m->answers.try_emplace(offset);
  Answer& a = it->second;
  if (!added) return a;
  // A return address: the call is the instruction before.
  uint64_t call = offset > 0 ? offset - 1 : 0;
  // Not in the module (compared as offsets: a huge one must not wrap around into it): nothing.
  if (call < m->low - m->bias || call >= m->high - m->bias) return a;
  Dwarf_Addr address = m->bias + call;

  // Innermost location: the line table at the address.
  std::string file;
  int line = 0;
  if (Dwfl_Line* l = dwfl_module_getsrc(m->module, address)) {
    const char* name = dwfl_lineinfo(l, nullptr, &line, nullptr, nullptr, nullptr);
    if (name != nullptr) file = name;
  }

  Dwarf_Addr cu_bias = 0;
  Dwarf_Die* cu = dwfl_module_addrdie(m->module, address, &cu_bias);
  // The scopes at the address as dwarf_getscopes finds them: from the unit down through
  // functions, blocks and inlined functions, at each level the first DIE that contains the
  // address. The innermost function scope there and the ones around it are the concrete chain
  // (what dwarf_getscopes_die gives, as eu-addr2line does).
  std::vector<Dwarf_Die> path;
  if (cu != nullptr) {
    Dwarf_Addr pc = address - cu_bias;
    for (Dwarf_Die* scope = cu;
         scope == cu || (may_have_scopes(scope) && dwarf_haschildren(scope) > 0);
         scope = &path.back()) {
      auto index = m->scopes.find(scope->addr);
      if (index == m->scopes.end()) {
        index = m->scopes.emplace(scope->addr, ScopeIndex(scope)).first;
      }
      const Dwarf_Die* inner = index->second.find(pc);
      if (inner == nullptr) break;
      path.push_back(*inner);
    }
  }
  while (!path.empty() && !is_function(dwarf_tag(&path.back()))) path.pop_back();

  Dwarf_Files* files = nullptr;
  size_t file_count = 0;
  if (!path.empty()) dwarf_getsrcfiles(cu, &files, &file_count);
  for (size_t i = path.size(); i-- > 0;) {
    Dwarf_Die* scope = &path[i];
    int tag = dwarf_tag(scope);
    if (!is_function(tag)) continue;
    a.chain.push_back(SourceLocation{function_name(scope, m->demangled), file, line});
    if (tag == DW_TAG_subprogram) break;
    // The next level out is where this one was inlined.
    Dwarf_Attribute attr;
    Dwarf_Word value = 0;
    file.clear();
    line = 0;
    if (dwarf_attr(scope, DW_AT_call_file, &attr) != nullptr &&
        dwarf_formudata(&attr, &value) == 0 && files != nullptr && value < file_count) {
      const char* name = dwarf_filesrc(files, value, nullptr, nullptr);
      if (name != nullptr) file = name;
    }
    if (dwarf_attr(scope, DW_AT_call_line, &attr) != nullptr &&
        dwarf_formudata(&attr, &value) == 0) {
      line = static_cast<int>(value);
    }
  }
  if (a.chain.empty()) {
    // No DWARF function here: the symbol table's name, when asked for (see locate_lines).
    a.file = std::move(file);
    a.line = line;
    a.named = false;
  }
  return a;
}

void DwarfSymbolizer::name_from_symbol_table(Module* m, uint64_t offset, Answer& a) {
  // No DWARF for this address: the symbol table's name, and the line table's file:line if any.
  const char* name = dwfl_module_addrname(m->module, m->bias + (offset > 0 ? offset - 1 : 0));
  if (name != nullptr || !a.file.empty()) {
    a.chain.push_back(SourceLocation{demangle(name), a.file, a.line});
  }
  a.named = true;
}

std::vector<SourceLocation> DwarfSymbolizer::locate(const std::string& path, uint64_t offset) {
  Module* m = open(path);
  if (m == nullptr || m->module == nullptr) return {};
  Answer& a = answer(m, offset);
  if (!a.named) name_from_symbol_table(m, offset, a);
  return a.chain;
}

std::vector<SourceLocation> DwarfSymbolizer::locate_lines(const std::string& path,
                                                          uint64_t offset) {
  Module* m = open(path);
  if (m == nullptr || m->module == nullptr) return {};
  Answer& a = answer(m, offset);
  if (!a.named) {
    if (a.line <= 0) return {};
    name_from_symbol_table(m, offset, a);
  }
  for (const SourceLocation& loc : a.chain) {
    if (loc.line > 0) return a.chain;
  }
  return {};
}

}  // namespace loopsan::cli
