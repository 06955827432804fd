#include "tools/loopsan/stack_text.h"

#include <vector>

#include "tools/loopsan/code_owners.h"
#include "tools/loopsan/report_json.h"

namespace loopsan::cli {

using nlohmann::json;

namespace {

// One printed line of a stack; `internal` lines fold when several come in a row. A frame with
// inlined calls prints one line per level, all with its number (`frame`).
struct StackLine {
  std::string text;
  bool internal = false;
  int frame = -1;  // -1: a line of its own
};

// Prints the lines, each run of two or more library-internal lines folded into one (never
// the innermost line: that is where the finding happened).
void print_lines(std::ostream& out, const std::vector<StackLine>& lines, bool fold) {
  for (size_t k = 0; k < lines.size();) {
    size_t run = k;
    while (fold && k > 0 && run < lines.size() && lines[run].internal) ++run;
    // Frames, not lines: a frame partly shown on either side is not counted as folded, so
    // the numbers around the fold add up.
    size_t frames = 0;
    if (run - k >= 2) {
      int before = lines[k - 1].frame;
      int after = run < lines.size() ? lines[run].frame : -2;
      for (size_t j = k; j < run; ++j) {
        int f = lines[j].frame;
        if (f < 0) {
          ++frames;
        } else if (f != before && f != after && (j == k || f != lines[j - 1].frame)) {
          ++frames;
        }
      }
    }
    if (frames >= 1) {
      out << "    … " << frames << (frames == 1 ? " frame" : " frames")
          << " of library internals …\n";
      k = run;
      continue;
    }
    out << lines[k].text << "\n";
    ++k;
  }
}

std::string file_line(const std::string& file, long line, bool full) {
  return (full ? file : basename_of(file)) + ":" + std::to_string(line);
}

std::string python_frame_text(const json& frame) {
  std::string text = str(frame, "function", "??") + " at " + str(frame, "file", "??");
  if (num(frame, "line", -1) >= 0) text += ":" + std::to_string(num(frame, "line"));
  return text;
}

// Where a native frame is in the source: the report's own file:line if it has them (a report
// already symbolized), else DWARF's.
std::pair<std::string, long> frame_source(const json& frame,
                                          const std::vector<SourceLocation>* locs) {
  if (frame.contains("file") && frame["file"].is_string()) {
    return {frame["file"].get<std::string>(), num(frame, "line")};
  }
  if (locs != nullptr && !locs->empty()) return {locs->back().file, locs->back().line};
  return {{}, 0};
}

}  // namespace

std::string short_name(const std::string& name) {
  std::string out;
  int depth = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    // operator<, operator<=, operator<< and operator<<= are names, not template lists.
    bool is_operator = c == '<' && ((i >= 8 && name.compare(i - 8, 8, "operator") == 0) ||
                                    (i >= 9 && name.compare(i - 9, 9, "operator<") == 0));
    if (c == '<' && !is_operator) {
      if (depth++ == 0) out += "<…>";
      continue;
    }
    if (c == '>' && depth > 0) {
      --depth;
      continue;
    }
    if (depth == 0) out += c;
  }
  if (out.size() > 100) {
    // Only the last parameter list: the one of the function itself. Earlier parentheses are
    // part of its name ("(anonymous namespace)::", "f(int)::{lambda()#1}::operator()").
    size_t close = out.rfind(')');
    size_t open = std::string::npos;
    int level = 0;
    for (size_t k = close; close != std::string::npos && k-- > 0;) {
      if (out[k] == ')') ++level;
      if (out[k] == '(' && level-- == 0) {
        open = k;
        break;
      }
    }
    if (open != std::string::npos && close - open > 1) {
      out = out.substr(0, open) + "(…)" + out.substr(close + 1);
    }
  }
  return out;
}

void print_native_stack(std::ostream& out, const json& frames, const SourceLocations& lines,
                        bool full) {
  std::vector<StackLine> items;
  int i = 0;
  for (const auto& f : frames) {
    std::string function = str(f, "function", "??");
    std::string module = str(f, "module", "??");
    std::string where =
        full ? " (" + module + "+" + str(f, "offset") + ")" : " (" + basename_of(module) + ")";
    const std::vector<SourceLocation>* locs = lines.find(f);
    std::string prefix = "    #" + std::to_string(i) + " " + (full ? str(f, "ip") + " " : "");
    // Functions inlined at this address come first, as sanitizers print them.
    if (locs != nullptr) {
      for (size_t k = 0; k + 1 < locs->size(); ++k) {
        const SourceLocation& in = (*locs)[k];
        std::string name = in.function.empty() ? "??" : in.function;
        items.push_back({prefix + "in " + (full ? name : short_name(name)) + " " +
                             file_line(in.file, in.line, full) + " (inlined)",
                         library_internal(name, in.file, module), i});
      }
    }
    auto [file, line] = frame_source(f, locs);
    std::string text = prefix + "in " + (full ? function : short_name(function));
    if (!file.empty()) text += " " + file_line(file, line, full);
    items.push_back({text + where, library_internal(function, file, module), i});
    ++i;
  }
  print_lines(out, items, !full);
}

void print_python_stack(std::ostream& out, const json& frames) {
  int i = 0;
  for (const auto& f : frames) out << "    #" << i++ << " " << python_frame_text(f) << "\n";
}

void print_js_stack(std::ostream& out, const json& frames) {
  int i = 0;
  for (const auto& f : frames) {
    std::string function = str(f, "function");
    out << "    #" << i++ << " " << (function.empty() ? "<anonymous>" : function) << " at "
        << str(f, "script", "??");
    if (num(f, "line", -1) >= 0) out << ":" << num(f, "line");
    if (num(f, "column", -1) >= 0) out << ":" << num(f, "column");
    out << "\n";
  }
}

bool can_merge_python(const json& f) {
  if (!f.is_object() || !f.contains("python_stack") || !is_python_stack(f["python_stack"]) ||
      !f.contains("stack") || !is_native_stack(f["stack"])) {
    return false;
  }
  // Without the interpreter's eval loop in the native stack there is nowhere to splice.
  for (const auto& frame : f["stack"]) {
    if (str(frame, "function") == "_PyEval_EvalFrameDefault") return true;
  }
  return false;
}

std::vector<MergedFrame> merged_python_stack(const json& f) {
  std::vector<MergedFrame> out;
  const json& python = f["python_stack"];
  // CPython 3.11 reports mark the frame each eval-loop call began with ("entry"): the Python
  // frames then splice exactly, one run per _PyEval_EvalFrameDefault. Without the marks they
  // all go where the innermost eval loop is, and the native frames outside it are left out
  // (their place among the Python frames is unknown).
  bool exact = false;
  for (const auto& frame : python) exact |= flag(frame, "entry");

  size_t next_python = 0;
  auto splice_python = [&] {
    while (next_python < python.size()) {
      const json& frame = python[next_python++];
      out.push_back({&frame, true});
      if (exact && flag(frame, "entry")) break;
    }
  };
  bool in_python = false;  // an eval loop is below the frames already seen
  bool builtin_shown = false;
  for (const auto& frame : f["stack"]) {
    std::string function = str(frame, "function");
    if (function == "_PyEval_EvalFrameDefault") {
      if (!in_python || exact) splice_python();
      in_python = true;
      if (!exact) break;
      continue;
    }
    if (interpreter_module(str(frame, "module"))) {
      // The innermost interpreter frame is the builtin the Python code called (time.sleep's
      // C function); the others are the interpreter's calling machinery.
      if (in_python || builtin_shown) continue;
      builtin_shown = true;
    }
    out.push_back({&frame, false});
  }
  // Python frames the native stack did not reach (it is capped at a depth).
  while (next_python < python.size()) splice_python();
  return out;
}

void print_merged_python_stack(std::ostream& out, const json& f, const SourceLocations& lines) {
  out << "\n  Stack, Python and native (most recent call first; --full-stacks for all):\n";
  std::vector<StackLine> items;
  int n = 0;
  auto add = [&](const std::string& text, bool internal) {
    items.push_back({"    #" + std::to_string(n++) + " " + text, internal});
  };
  if (f.contains("call") && f["call"].is_string()) {
    add(f["call"].get<std::string>() + " (libc)", false);
  }
  for (const MergedFrame& m : merged_python_stack(f)) {
    const json& frame = *m.frame;
    if (m.python) {
      add(python_frame_text(frame), false);
      continue;
    }
    std::string function = str(frame, "function");
    std::string module = str(frame, "module");
    const std::vector<SourceLocation>* locs = lines.find(frame);
    auto [file, line] = frame_source(frame, locs);
    std::string text = short_name(function.empty() ? "??" : function);
    if (!file.empty()) text += " " + file_line(file, line, false);
    add(text + " (" + basename_of(module) + ")", library_internal(function, file, module));
  }
  print_lines(out, items, true);
}

// Headings for the stacks a finding may carry, in display order.
const std::vector<std::pair<std::string, std::string>>& stack_titles() {
  static const std::vector<std::pair<std::string, std::string>> titles = {
      {"throw_python_stack", "Python stack where the exception was raised"},
      {"throw_stack", "Native stack where the exception was thrown"},
      {"python_stack", "Python stack"},
      {"js_stack", "JavaScript stack"},
      {"stack", "Native stack"},
      {"sampled_stack", "Native stack (sampled)"},
      {"gil_holder_python_stack", "Python stack of the thread holding the GIL"},
      {"gil_holder_stack", "Native stack of the thread holding the GIL"},
      {"created_python_stack", "Python stack where the thread was started"},
      {"created_stack", "Native stack where the thread was created"},
  };
  return titles;
}

}  // namespace loopsan::cli
