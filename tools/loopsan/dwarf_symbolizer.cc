#include "tools/loopsan/dwarf_symbolizer.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include <cstdlib>

namespace loopsan::cli {

namespace {

const Dwfl_Callbacks kOfflineCallbacks = {
    .find_elf = dwfl_build_id_find_elf,
    // Separate debug files: by build-id, then by .gnu_debuglink (libdwfl's standard search).
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = nullptr,
};

std::string demangle(const char* name) {
  if (name == nullptr) return {};
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string result = status == 0 && out != nullptr ? out : name;
  free(out);
  return result;
}

// A function's name as people read it: the demangled linkage name (with its namespaces and
// parameters), else the plain name. Inlined instances name their abstract origin.
std::string function_name(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  const char* linkage = nullptr;
  if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) != nullptr ||
      dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr) != nullptr) {
    linkage = dwarf_formstring(&attr);
  }
  if (linkage != nullptr) return demangle(linkage);
  if (dwarf_attr_integrate(die, DW_AT_name, &attr) != nullptr) {
    const char* name = dwarf_formstring(&attr);
    if (name != nullptr) return name;
  }
  return {};
}

}  // namespace

struct DwarfSymbolizer::Module {
  Dwfl* dwfl = nullptr;
  Dwfl_Module* module = nullptr;
  Dwarf_Addr bias = 0;  // where libdwfl placed the file: add to an offset from a report
  ~Module() {
    if (dwfl != nullptr) dwfl_end(dwfl);
  }
};

DwarfSymbolizer::DwarfSymbolizer() = default;
DwarfSymbolizer::~DwarfSymbolizer() = default;

DwarfSymbolizer::Module* DwarfSymbolizer::open(const std::string& path) {
  auto it = modules_.find(path);
  if (it != modules_.end()) return it->second.get();
  auto m = std::make_unique<Module>();
  m->dwfl = dwfl_begin(&kOfflineCallbacks);
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
  }
  Module* raw = m.get();
  modules_.emplace(path, std::move(m));
  return raw;
}

std::vector<SourceLocation> DwarfSymbolizer::locate(const std::string& path, uint64_t offset) {
  std::vector<SourceLocation> chain;
  Module* m = open(path);
  if (m == nullptr || m->module == nullptr) return chain;
  // A return address: the call is the instruction before.
  Dwarf_Addr address = m->bias + (offset > 0 ? offset - 1 : 0);

  // Innermost location: the line table at the address.
  std::string file;
  int line = 0;
  if (Dwfl_Line* l = dwfl_module_getsrc(m->module, address)) {
    const char* name = dwfl_lineinfo(l, nullptr, &line, nullptr, nullptr, nullptr);
    if (name != nullptr) file = name;
  }

  Dwarf_Addr cu_bias = 0;
  Dwarf_Die* cu = dwfl_module_addrdie(m->module, address, &cu_bias);
  // The innermost function scope at the address, then its concrete chain of enclosing scopes
  // (dwarf_getscopes by address continues into an inlined function's abstract definition;
  // dwarf_getscopes_die follows where each instance was inlined, as eu-addr2line does).
  Dwarf_Die* scopes = nullptr;
  int n = 0;
  Dwarf_Die* by_address = nullptr;
  int found = cu != nullptr ? dwarf_getscopes(cu, address - cu_bias, &by_address) : 0;
  for (int i = 0; i < found; ++i) {
    int tag = dwarf_tag(&by_address[i]);
    if (tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram) {
      n = dwarf_getscopes_die(&by_address[i], &scopes);
      break;
    }
  }
  free(by_address);
  Dwarf_Files* files = nullptr;
  size_t file_count = 0;
  if (cu != nullptr) dwarf_getsrcfiles(cu, &files, &file_count);
  for (int i = 0; i < n; ++i) {
    Dwarf_Die* scope = &scopes[i];
    int tag = dwarf_tag(scope);
    if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) continue;
    chain.push_back(SourceLocation{function_name(scope), file, line});
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
  free(scopes);

  if (chain.empty()) {
    // No DWARF for this address: the symbol table's name, and the line table's if any.
    const char* name = dwfl_module_addrname(m->module, address);
    if (name != nullptr || !file.empty()) {
      chain.push_back(SourceLocation{demangle(name), file, line});
    }
  }
  return chain;
}

}  // namespace loopsan::cli
