#include "tools/loopsan/guilty_frame.h"

#include "tools/loopsan/code_owners.h"
#include "tools/loopsan/report_json.h"
#include "tools/loopsan/stack_text.h"

namespace loopsan::cli {

using nlohmann::json;

namespace {

std::string script_frame(const json& frames, bool python) {
  for (const auto& frame : frames) {
    std::string file = str(frame, python ? "file" : "script");
    if (python ? stdlib_python(file) : file.rfind("node:", 0) == 0) continue;
    std::string where = basename_of(file);
    if (num(frame, "line", -1) > 0) where += ":" + std::to_string(num(frame, "line"));
    std::string function = str(frame, "function");
    return (function.empty() ? "<anonymous>" : function) + " (" + where + ")";
  }
  return {};
}

std::string native_frame(const json& frames, const SourceLocations& lines) {
  for (const auto& frame : frames) {
    std::string module = str(frame, "module");
    if (module.empty() || system_module(module)) continue;
    if (const auto* locs = lines.find(frame)) {
      // The innermost level that is the user's source, not a library header inlined there
      // (or, at -O0, called out of line); a frame that is all headers is not the user's.
      for (const SourceLocation& in : *locs) {
        if (in.function.empty() || in.file.rfind("/usr/include/", 0) == 0 ||
            library_internal(in.function, in.file, module)) {
          continue;
        }
        return short_name(in.function) + " (" + basename_of(in.file) + ":" +
               std::to_string(in.line) + ")";
      }
      continue;
    }
    std::string function = str(frame, "function", "??");
    if (library_internal(function, "", module)) continue;
    return short_name(function) + " (" + basename_of(module) + ")";
  }
  return {};
}

}  // namespace

std::string guilty_frame(const json& f, const SourceLocations& lines) {
  for (const char* key : {"python_stack", "js_stack"}) {
    if (!f.is_object() || !f.contains(key) || !f[key].is_array()) continue;
    std::string found = script_frame(f[key], key[0] == 'p');
    if (!found.empty()) return found;
  }
  for (const char* key : {"throw_stack", "stack", "sampled_stack"}) {
    if (!f.is_object() || !f.contains(key) || !f[key].is_array()) continue;
    std::string found = native_frame(f[key], lines);
    if (!found.empty()) return found;
  }
  return {};
}

}  // namespace loopsan::cli
