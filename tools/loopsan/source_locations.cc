#include "tools/loopsan/source_locations.h"

#include "tools/loopsan/report_json.h"

namespace loopsan::cli {

void SourceLocations::add(const std::string& module, unsigned long offset,
                          const std::string& build_id) {
  if (module.empty() || module[0] != '/') return;
  if (!build_id.empty()) {
    auto [it, added] = build_ids_.try_emplace(module);
    if (added) it->second = dwarf_.build_id(module);
    if (!it->second.empty() && it->second != build_id) {
      changed_.insert(module);
      return;
    }
  }
  if (found_.count({module, offset}) != 0) return;
  pending_[module].push_back(offset);
}

void SourceLocations::add_finding(const nlohmann::json& value) {
  // Stacks may be nested (a hung-wait's threads[].stack): every native stack anywhere.
  if (is_native_stack(value)) {
    for (const auto& f : value) {
      add(str(f, "module"), hex_field(f, "offset"), str(f, "build_id"));
    }
  } else if (value.is_array() || value.is_object()) {
    for (const auto& item : value) add_finding(item);
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

const std::vector<SourceLocation>* SourceLocations::find(const nlohmann::json& frame) const {
  std::string module = str(frame, "module"), id = str(frame, "build_id");
  if (!id.empty()) {
    auto it = build_ids_.find(module);
    if (it != build_ids_.end() && !it->second.empty() && it->second != id) return nullptr;
  }
  return find(module, hex_field(frame, "offset"));
}

}  // namespace loopsan::cli
