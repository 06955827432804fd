#include "tools/loopsan/source_locations.h"

#include "tools/loopsan/report_json.h"

namespace loopsan::cli {

void SourceLocations::add(const std::string& module, unsigned long offset) {
  if (module.empty() || module[0] != '/') return;
  if (found_.count({module, offset}) != 0) return;
  pending_[module].push_back(offset);
}

void SourceLocations::add_finding(const nlohmann::json& finding) {
  if (!finding.is_object()) return;
  for (const auto& [key, value] : finding.items()) {
    if (!is_native_stack(value)) continue;
    for (const auto& f : value) add(str(f, "module"), hex_field(f, "offset"));
  }
}

void SourceLocations::resolve() {
  // libdwfl, in this process: every inlined level with its own name (binutils' addr2line names
  // the innermost level wrongly in common cases), separate debug files by build-id and
  // .gnu_debuglink, one open per module.
  for (auto& [module, offsets] : pending_) {
    for (unsigned long off : offsets) {
      // Only frames with a source location: a name alone adds nothing to the report's own.
      std::vector<SourceLocation> chain = dwarf_.locate_lines(module, off);
      if (!chain.empty()) found_[{module, off}] = std::move(chain);
    }
  }
  pending_.clear();
}

const std::vector<SourceLocation>* SourceLocations::find(const std::string& module,
                                                         unsigned long offset) const {
  auto it = found_.find({module, offset});
  return it == found_.end() ? nullptr : &it->second;
}

}  // namespace loopsan::cli
