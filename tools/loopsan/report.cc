// `loopsan report [--format text|json] [--error-exitcode N] FILE_OR_DIR...`
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>

#include "tools/loopsan/source_locations.h"
#include "tools/loopsan/commands.h"
#include "tools/loopsan/report_reader.h"

namespace loopsan::cli {
namespace {

using nlohmann::json;

std::string str(const json& j, const char* key, const std::string& fallback = "") {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>()
                                                                : fallback;
}

long num(const json& j, const char* key, long fallback = 0) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<long>() : fallback;
}

unsigned long hex_field(const json& frame, const char* key) {
  std::string text = str(frame, key);
  return text.empty() ? 0 : strtoul(text.c_str(), nullptr, 16);
}

bool is_stack(const json& v) {
  return v.is_array() && !v.empty() && v[0].is_object() && v[0].contains("ip");
}
bool is_python_stack(const json& v) {
  return v.is_array() && !v.empty() && v[0].is_object() && v[0].contains("file") &&
         !v[0].contains("ip");
}
bool is_js_stack(const json& v) {
  return v.is_array() && !v.empty() && v[0].is_object() && v[0].contains("script");
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
  };
  return titles;
}

std::string basename_of(const std::string& path);

// C++ names people can read: every template argument list becomes <…>, and a parameter list
// that is still long becomes (…). `operator<`, `operator<<`, `operator<=` are not templates.
std::string short_name(const std::string& name) {
  std::string out;
  int depth = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool is_operator = c == '<' && i >= 8 && name.compare(i - 8, 8, "operator") == 0;
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
    size_t open = out.find('(');
    size_t close = out.rfind(')');
    if (open != std::string::npos && close != std::string::npos && close > open) {
      out = out.substr(0, open) + "(…)" + out.substr(close + 1);
    }
  }
  return out;
}

// Frames of a framework's or the C++ library's own machinery, folded in the default text.
bool framework_internal(const std::string& function, const std::string& file) {
  static const char* const kNames[] = {
      "boost::asio::detail::", "asio::detail::", "std::_", "std::__", "__invoke", "uv__",
      "g_main_context_"};
  for (const char* n : kNames) {
    if (function.rfind(n, 0) == 0) return true;
  }
  return file.find("/boost/asio/detail/") != std::string::npos ||
         file.find("/include/c++/") != std::string::npos;
}

void print_native(std::ostream& out, const json& frames, const SourceLocations& lines,
                  bool full = true) {
  struct Item {
    std::string text;
    bool internal;
  };
  std::vector<Item> items;
  int i = 0;
  for (const auto& f : frames) {
    std::string function = str(f, "function", "??");
    std::string module = str(f, "module", "??");
    std::string where =
        full ? " (" + module + "+" + str(f, "offset") + ")" : " (" + basename_of(module) + ")";
    const std::vector<SourceLocation>* locs = lines.find(module, hex_field(f, "offset"));
    std::string prefix = "    #" + std::to_string(i) + " " + (full ? str(f, "ip") + " " : "");
    // Functions inlined at this address come first, as sanitizers print them.
    if (locs != nullptr) {
      for (size_t k = 0; k + 1 < locs->size(); ++k) {
        const SourceLocation& in = (*locs)[k];
        std::string name = in.function.empty() ? "??" : in.function;
        std::string file = full ? in.file : basename_of(in.file);
        items.push_back({prefix + "in " + (full ? name : short_name(name)) + " " + file + ":" +
                             std::to_string(in.line) + " (inlined)",
                         framework_internal(name, in.file)});
      }
    }
    std::string file;
    long line = 0;
    if (f.contains("file") && f["file"].is_string()) {
      file = f["file"].get<std::string>();
      line = num(f, "line");
    } else if (locs != nullptr) {
      file = locs->back().file;
      line = locs->back().line;
    }
    std::string text = prefix + "in " + (full ? function : short_name(function));
    if (!file.empty()) text += " " + (full ? file : basename_of(file)) + ":" + std::to_string(line);
    items.push_back({text + where, framework_internal(function, file)});
    ++i;
  }
  // Runs of a framework's internals fold into one line (never the innermost frame).
  for (size_t k = 0; k < items.size();) {
    size_t run = k;
    while (!full && k > 0 && run < items.size() && items[run].internal) ++run;
    if (run - k >= 2) {
      out << "    … " << (run - k) << " frames of library internals …\n";
      k = run;
      continue;
    }
    out << items[k].text << "\n";
    ++k;
  }
}

void print_python(std::ostream& out, const json& frames) {
  int i = 0;
  for (const auto& f : frames) {
    out << "    #" << i++ << " " << str(f, "function", "??") << " at " << str(f, "file", "??");
    if (num(f, "line", -1) >= 0) out << ":" << num(f, "line");
    out << "\n";
  }
}

void print_js(std::ostream& out, const json& frames) {
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

std::string scalar_text(const json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

void gather(const std::vector<DistinctFinding>& findings, SourceLocations& lines);

std::string basename_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool interpreter_module(const std::string& module);

// A Python finding's stack as py-spy --native shows it, top down: the blocking libc call, the
// native frames above the interpreter's eval loop (a C extension, the builtin's own C function),
// then the Python frames where the eval loop was. The interpreter's internals are left out;
// --full-stacks prints both stacks whole instead.
void print_merged(std::ostream& out, const json& f, const SourceLocations& lines) {
  out << "\n  Stack, Python and native (most recent call first; --full-stacks for all):\n";
  int i = 0;
  if (f.contains("call") && f["call"].is_string()) {
    out << "    #" << i++ << " " << f["call"].get<std::string>() << " (libc)\n";
  }
  bool builtin_shown = false;
  for (const auto& frame : f["stack"]) {
    std::string function = str(frame, "function");
    if (function == "_PyEval_EvalFrameDefault") break;  // the Python frames go here
    std::string module = str(frame, "module");
    if (interpreter_module(module)) {
      // The innermost interpreter frame is the builtin that was called (time.sleep's C
      // function); the others are the interpreter's calling machinery.
      if (builtin_shown) continue;
      builtin_shown = true;
    }
    out << "    #" << i++ << " " << (function.empty() ? "??" : function);
    const std::vector<SourceLocation>* locs = lines.find(module, hex_field(frame, "offset"));
    if (locs != nullptr && !locs->empty()) {
      out << " " << locs->back().file << ":" << locs->back().line;
    }
    out << " (" << basename_of(module) << ")\n";
  }
  for (const auto& frame : f["python_stack"]) {
    out << "    #" << i++ << " " << str(frame, "function", "??") << " at "
        << str(frame, "file", "??");
    if (num(frame, "line", -1) >= 0) out << ":" << num(frame, "line");
    out << "\n";
  }
}

// Code that is not the user's: the C and C++ runtimes, the loader, the interpreter, loopsan.
bool interpreter_module(const std::string& module) {
  std::string base = basename_of(module);
  return base.rfind("libpython", 0) == 0 || base.rfind("python3", 0) == 0;
}

bool system_module(const std::string& module) {
  static const char* const kPrefixes[] = {"libc.so",    "libstdc++.so",  "libgcc_s.so", "libm.so",
                                          "ld-linux",   "libpthread.so", "libpython",   "python3",
                                          "libloopsan", "libnode.so",    "node"};
  std::string base = basename_of(module);
  for (const char* p : kPrefixes) {
    if (base.rfind(p, 0) == 0) return true;
  }
  return false;
}

// Python's own library (/usr/lib/python3.11/..., a pyenv's lib/python3.11/...), not
// site-packages: not the user's code either.
bool stdlib_python(const std::string& file) {
  return file.find("/lib/python3.") != std::string::npos &&
         file.find("-packages/") == std::string::npos;
}

// The user's own guilty frame, the way a compiler error points at a line: the innermost
// Python frame outside the standard library, else the innermost native frame outside the
// runtimes (its innermost inlined function, at its line, when DWARF says).
std::string guilty_frame(const json& f, const SourceLocations& lines) {
  for (const char* key : {"python_stack", "js_stack"}) {
    if (!f.contains(key) || !f[key].is_array()) continue;
    for (const auto& frame : f[key]) {
      std::string file = str(frame, key[0] == 'p' ? "file" : "script");
      if (key[0] == 'p' && stdlib_python(file)) continue;
      if (file.rfind("node:", 0) == 0) continue;
      std::string where = basename_of(file);
      if (num(frame, "line", -1) > 0) where += ":" + std::to_string(num(frame, "line"));
      std::string function = str(frame, "function");
      return (function.empty() ? "<anonymous>" : function) + " (" + where + ")";
    }
  }
  // Where an exception was thrown says more than where it was dropped.
  for (const char* key : {"throw_stack", "stack", "sampled_stack"}) {
    if (!f.contains(key) || !f[key].is_array()) continue;
    for (const auto& frame : f[key]) {
      std::string module = str(frame, "module");
      if (module.empty() || system_module(module)) continue;
      const std::vector<SourceLocation>* locs = lines.find(module, hex_field(frame, "offset"));
      if (locs != nullptr) {
        // The innermost level that is the user's source, not a library header inlined there.
        for (const SourceLocation& in : *locs) {
          if (in.function.empty() || in.file.rfind("/usr/include/", 0) == 0) continue;
          return in.function + " (" + basename_of(in.file) + ":" + std::to_string(in.line) + ")";
        }
      }
      return str(frame, "function", "??") + " (" + basename_of(module) + ")";
    }
  }
  return {};
}

void print_text(std::ostream& out, const std::vector<DistinctFinding>& findings,
                const std::vector<Report>& reports, bool symbolize, bool full_stacks) {
  SourceLocations lines;
  if (symbolize) gather(findings, lines);
  std::map<std::string, long> by_kind;
  for (const auto& d : findings) {
    const json& f = d.finding;
    std::string kind = str(f, "kind", "unknown");
    by_kind[kind] += 1;
    out << "==================================================================\n";
    out << "loopsan: " << kind << ": " << str(f, "message") << "\n";
    std::string guilty = guilty_frame(f, lines);
    if (!guilty.empty()) out << "  at " << guilty << "\n";
    const json thread = f.contains("thread") ? f["thread"] : json::object();
    out << "  thread " << num(thread, "tid") << " \"" << str(thread, "name") << "\" ("
        << str(thread, "role", "other") << ") in " << d.process;
    if (f.contains("time_ms")) out << ", " << f["time_ms"].dump() << " ms after start";
    out << "\n";
    if (d.occurrences > 1 || d.reports > 1) {
      out << "  seen " << d.occurrences << " time" << (d.occurrences == 1 ? "" : "s");
      if (d.reports > 1) out << " in " << d.reports << " processes";
      out << "\n";
    }
    if (f.contains("exception") && f["exception"].is_object()) {
      out << "  exception: " << str(f["exception"], "type", "?");
      std::string what = str(f["exception"], "what");
      if (!what.empty()) out << ": " << what;
      out << "\n";
    }
    // Other scalar fields (call, duration_ms, queue_ms, ...).
    static const char* const kShown[] = {"type",    "kind",   "id",      "seq",
                                         "time_ms", "thread", "message", "exception"};
    for (const auto& [key, value] : f.items()) {
      bool shown = false;
      for (const char* k : kShown) shown |= key == k;
      if (shown || value.is_array() || value.is_object()) continue;
      out << "  " << key << ": " << scalar_text(value) << "\n";
    }
    bool merged = !full_stacks && f.contains("python_stack") &&
                  is_python_stack(f["python_stack"]) && !f["python_stack"].empty() &&
                  f.contains("stack") && is_stack(f["stack"]);
    if (merged) print_merged(out, f, lines);
    for (const auto& [key, title] : stack_titles()) {
      if (!f.contains(key)) continue;
      if (merged && (key == "stack" || key == "python_stack")) continue;
      const json& frames = f[key];
      if (is_python_stack(frames)) {
        out << "\n  " << title << " (most recent call first):\n";
        print_python(out, frames);
      } else if (is_js_stack(frames)) {
        out << "\n  " << title << " (most recent call first):\n";
        print_js(out, frames);
      } else if (is_stack(frames)) {
        out << "\n  " << title << ":\n";
        print_native(out, frames, lines, full_stacks);
      }
    }
    out << "\n  report: " << d.report_path << " (id " << str(f, "id") << ")\n";
  }
  int crashed = 0;
  for (const auto& r : reports) {
    if (!r.summary.is_object()) continue;
    std::string how = r.summary.contains("exit") ? str(r.summary["exit"], "how") : "";
    if (how == "signal" || how == "abort") ++crashed;
  }
  long total = static_cast<long>(findings.size());
  out << "SUMMARY: loopsan: " << total << (total == 1 ? " finding" : " findings");
  if (total > 0) out << " (" << kinds_text(by_kind) << ")";
  out << " in " << reports.size() << (reports.size() == 1 ? " report" : " reports");
  if (crashed > 0) out << "; " << crashed << " process(es) ended by a signal";
  out << "\n";
}

// Native frames gain "file", "line" and "inlined": [{function, file, line}, ...] (innermost
// first; the frame's own "function" stays the out-of-line function's).
void add_source_locations(json& finding, const SourceLocations& lines) {
  for (auto& [key, value] : finding.items()) {
    if (!is_stack(value)) continue;
    for (auto& frame : value) {
      if (!frame.is_object() || !frame.contains("module")) continue;
      const std::vector<SourceLocation>* locs =
          lines.find(str(frame, "module"), hex_field(frame, "offset"));
      if (locs == nullptr || locs->empty()) continue;
      frame["file"] = locs->back().file;
      frame["line"] = locs->back().line;
      if (locs->size() > 1) {
        json inlined = json::array();
        for (size_t k = 0; k + 1 < locs->size(); ++k) {
          inlined.push_back({{"function", (*locs)[k].function},
                             {"file", (*locs)[k].file},
                             {"line", (*locs)[k].line}});
        }
        frame["inlined"] = std::move(inlined);
      }
    }
  }
}

void gather(const std::vector<DistinctFinding>& findings, SourceLocations& lines) {
  for (const auto& d : findings) {
    for (const auto& [key, value] : d.finding.items()) {
      if (!is_stack(value)) continue;
      for (const auto& f : value) lines.add(str(f, "module"), hex_field(f, "offset"));
    }
  }
  lines.resolve();
}

void print_json(std::ostream& out, const std::vector<DistinctFinding>& findings, bool symbolize) {
  SourceLocations lines;
  if (symbolize) gather(findings, lines);
  for (const auto& d : findings) {
    json f = d.finding;
    if (symbolize) add_source_locations(f, lines);
    f["occurrences"] = d.occurrences;
    f["report"] = d.report_path;
    out << f.dump() << "\n";
  }
}

int usage(std::ostream& out, int status) {
  out << "usage: loopsan report [--format text|json] [--no-symbolize] [--error-exitcode N] "
         "FILE_OR_DIR...\n"
         "  Reads loopsan report files (or the loopsan.*.jsonl files of directories), merges\n"
         "  findings with the same id and prints them.\n"
         "  --format text   sanitizer-style report for people (default)\n"
         "  --format json   one JSON object per distinct finding, with \"occurrences\"\n"
         "  --full-stacks   every frame: the interpreter's too, native and Python apart\n"
         "  --no-symbolize  do not look up file:line and inlined functions (DWARF)\n"
         "  --error-exitcode N  exit with N if there is at least one finding\n";
  return status;
}

}  // namespace

int report_command(const std::vector<std::string>& args) {
  std::string format = "text";
  bool symbolize = true;
  bool full_stacks = false;
  int error_exitcode = 0;
  std::vector<std::string> inputs;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") return usage(std::cout, 0);
    if (a == "--format" && i + 1 < args.size()) {
      format = args[++i];
    } else if (a.rfind("--format=", 0) == 0) {
      format = a.substr(9);
    } else if (a == "--full-stacks") {
      full_stacks = true;
    } else if (a == "--no-symbolize") {
      symbolize = false;
    } else if (a == "--error-exitcode" && i + 1 < args.size()) {
      error_exitcode = atoi(args[++i].c_str());
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      std::cerr << "loopsan report: unknown option " << a << "\n";
      return usage(std::cerr, 2);
    } else {
      inputs.push_back(a);
    }
  }
  if (format != "text" && format != "json") {
    std::cerr << "loopsan report: unknown format '" << format << "' (text or json)\n";
    return 2;
  }
  if (inputs.empty()) return usage(std::cerr, 2);

  std::vector<std::string> errors;
  std::vector<std::string> paths = expand_inputs(inputs, errors);
  std::vector<Report> reports;
  for (const std::string& p : paths) {
    Report r;
    std::string error;
    if (!read_report(p, r, error)) {
      errors.push_back(error);
      continue;
    }
    if (r.malformed_lines > 0) {
      std::cerr << "loopsan report: " << p << ": skipped " << r.malformed_lines
                << " line(s) that are not loopsan records (first at line " << r.first_malformed_line
                << ")\n";
    }
    reports.push_back(std::move(r));
  }
  for (const std::string& e : errors) std::cerr << "loopsan report: " << e << "\n";
  if (reports.empty()) {
    std::cerr << "loopsan report: no report to read\n";
    return 2;
  }
  std::vector<DistinctFinding> findings = distinct_findings(reports);
  if (format == "json") {
    print_json(std::cout, findings, symbolize);
  } else {
    print_text(std::cout, findings, reports, symbolize, full_stacks);
  }
  return (error_exitcode != 0 && !findings.empty()) ? error_exitcode : 0;
}

}  // namespace loopsan::cli
