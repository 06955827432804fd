#include "tools/loopsan/guilty_frame.h"

#include "tools/loopsan/code_owners.h"
#include "tools/loopsan/report_json.h"
#include "tools/loopsan/stack_text.h"

namespace loopsan::cli {

using nlohmann::json;

namespace {

bool script_frame(const json& frames, bool python, bool named, GuiltyFrame& out) {
  int index = 0;
  for (const auto& frame : frames) {
    std::string file = str(frame, python ? "file" : "script");
    if ((python ? stdlib_python(file) : file.rfind("node:", 0) == 0) ||
        (named && str(frame, "function").empty())) {
      ++index;
      continue;
    }
    std::string where = basename_of(file);
    if (num(frame, "line", -1) > 0) where += ":" + std::to_string(num(frame, "line"));
    std::string function = str(frame, "function");
    out.frame = &frame;
    out.index = index;
    out.script = true;
    out.function = function;
    out.file = file;
    out.line = num(frame, "line", 0);
    out.text = (function.empty() ? "<anonymous>" : function) + " (" + where + ")";
    return true;
  }
  return false;
}

bool native_frame(const json& frames, const SourceLocations& lines, bool named, GuiltyFrame& out) {
  int index = -1;
  for (const auto& frame : frames) {
    ++index;
    std::string module = str(frame, "module");
    if (module.empty() || system_module(module)) continue;
    if (named && str(frame, "function").empty()) continue;
    if (const auto* locs = lines.find(frame)) {
      // The innermost level that is the user's source, not a library header inlined there
      // (or, at -O0, called out of line); a frame that is all headers is not the user's.
      for (const SourceLocation& in : *locs) {
        if (in.function.empty() || in.file.rfind("/usr/include/", 0) == 0 ||
            library_internal(in.function, in.file, module)) {
          continue;
        }
        out.frame = &frame;
        out.index = index;
        out.function = in.function;
        out.file = in.file;
        out.line = in.line;
        out.text = short_name(in.function) + " (" + basename_of(in.file) + ":" +
                   std::to_string(in.line) + ")";
        return true;
      }
      continue;
    }
    std::string function = str(frame, "function", "??");
    if (library_internal(function, "", module)) continue;
    out.frame = &frame;
    out.index = index;
    out.function = function;
    // A report symbolized before (loopsan report --format json) has its lines already.
    out.file = str(frame, "file");
    out.line = out.file.empty() ? 0 : num(frame, "line", 0);
    out.text = short_name(function) + " (" +
               (out.line > 0 ? basename_of(out.file) + ":" + std::to_string(out.line)
                             : basename_of(module)) +
               ")";
    return true;
  }
  return false;
}

}  // namespace

GuiltyFrame find_guilty_frame(const json& f, const SourceLocations& lines,
                              std::initializer_list<const char*> keys, bool named) {
  GuiltyFrame out;
  if (!f.is_object()) return out;
  for (const char* key : keys) {
    if (!f.contains(key) || !f[key].is_array()) continue;
    const json& frames = f[key];
    std::string name = key;
    bool python = name.find("python_stack") != std::string::npos;
    bool js = name.find("js_stack") != std::string::npos;
    bool found = python || js ? script_frame(frames, python, named, out)
                              : native_frame(frames, lines, named, out);
    if (found) {
      out.stack = key;
      return out;
    }
  }
  return out;
}

std::string guilty_frame(const json& f, const SourceLocations& lines) {
  return find_guilty_frame(f, lines).text;
}

}  // namespace loopsan::cli
