// `loopsan report [--format text|json|sarif] [--suppressions] [--error-exitcode N] FILE_OR_DIR...`
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>

#include "tools/loopsan/commands.h"
#include "tools/loopsan/guilty_frame.h"
#include "tools/loopsan/html_report.h"
#include "tools/loopsan/report_json.h"
#include "tools/loopsan/report_reader.h"
#include "tools/loopsan/sarif.h"
#include "tools/loopsan/source_locations.h"
#include "tools/loopsan/stack_text.h"
#include "tools/loopsan/suppression_rules.h"
#include "tools/loopsan/text_clean.h"

namespace loopsan::cli {
namespace {

using nlohmann::json;

std::string scalar_text(const json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

void gather(const std::vector<DistinctFinding>& findings, SourceLocations& lines) {
  for (const auto& d : findings) lines.add_finding(d.finding);
  lines.resolve();
  for (const std::string& module : lines.changed_modules()) {
    std::cerr << "loopsan report: " << module
              << " is not the file the report saw (its build-id differs): its frames keep the "
                 "report's names, without file:line\n";
  }
}

struct TextOptions {
  bool symbolize = true;
  bool full_stacks = false;
  std::vector<std::string> debuginfo_dirs;
};

// A small object (gil_holder, waiting_for) on one line: "kind, key=value, ...".
std::string object_text(const json& v) {
  std::string text = str(v, "kind");
  for (const auto& [key, value] : v.items()) {
    if (key == "kind" || value.is_array() || value.is_object()) continue;
    if (!text.empty()) text += ", ";
    text += key + "=" + scalar_text(value);
  }
  return text;
}

// The stacks of a finding, or of one of its threads (`of` names it in the headings).
void print_stacks(std::ostream& out, const json& f, const SourceLocations& lines, bool full_stacks,
                  const std::string& of) {
  bool merged = of.empty() && !full_stacks && can_merge_python(f);
  if (merged) print_merged_python_stack(out, f, lines);
  for (const auto& [key, title] : stack_titles()) {
    if (!f.contains(key)) continue;
    if (merged && (key == "stack" || key == "python_stack")) continue;
    const json& frames = f[key];
    if (is_python_stack(frames)) {
      out << "\n  " << title << of << " (most recent call first):\n";
      print_python_stack(out, frames);
    } else if (is_js_stack(frames)) {
      out << "\n  " << title << of << " (most recent call first):\n";
      print_js_stack(out, frames);
    } else if (is_native_stack(frames)) {
      out << "\n  " << title << of << ":\n";
      print_native_stack(out, frames, lines, full_stacks);
    }
  }
}

// A loop-stall's distinct sampled stacks, each by the line it was at.
void print_samples(std::ostream& out, const json& f, const SourceLocations& lines) {
  if (!f.contains("samples") || !f["samples"].is_array() || f["samples"].size() < 2) return;
  out << "\n  Samples (" << f["samples"].size() << " distinct stacks):\n";
  for (const json& sample : f["samples"]) {
    std::string at = guilty_frame(sample, lines);
    if (at.empty()) at = str(sample, "waiting_in", str(sample, "stack_unavailable", "?"));
    out << "    " << num(sample, "count") << " x " << at << "\n";
  }
}

// Every thread a finding describes (hung-wait's all-thread dump, a deadlock's cycle, leaked
// threads): its state and where it is, then its stacks.
void print_threads(std::ostream& out, const json& f, const SourceLocations& lines,
                   bool full_stacks) {
  if (!f.contains("threads") || !f["threads"].is_array() || f["threads"].empty()) return;
  const json& threads = f["threads"];
  long subject = f.contains("thread") ? num(f["thread"], "tid") : 0;
  out << "\n  Threads (" << threads.size() << "):\n";
  for (const json& t : threads) {
    long tid = num(t, "tid");
    out << "\n  thread " << tid << " \"" << str(t, "name") << "\"";
    if (t.contains("role")) out << " (" << str(t, "role") << ")";
    out << ": " << str(t, "state", "?");
    std::string call = str(t, "waiting_in");
    if (!call.empty() && call != "-") out << " in " << call;
    if (t.contains("waiting_ms")) out << " for " << num(t, "waiting_ms") << " ms";
    if (t.contains("waiting_for") && t["waiting_for"].is_object()) {
      out << ", waiting for " << object_text(t["waiting_for"]);
    }
    out << "\n";
    std::string at = guilty_frame(t, lines);
    if (!at.empty()) out << "    at " << at << "\n";
    if (tid == subject && f.contains("stack")) continue;  // its stacks are the finding's, above
    print_stacks(out, t, lines, full_stacks, " of thread " + std::to_string(tid));
  }
}

// A finding's strings as a terminal may show them (text_clean.h, terminal_safe). Module paths
// stay as they are: they are the keys of the symbolized lines.
json terminal_safe_strings(const json& v, const std::string& key = "") {
  if (v.is_string()) return key == "module" ? v : json(terminal_safe(v.get<std::string>()));
  if (v.is_array()) {
    json out = json::array();
    for (const json& item : v) out.push_back(terminal_safe_strings(item));
    return out;
  }
  if (!v.is_object()) return v;
  json out = json::object();
  for (const auto& [k, item] : v.items()) out[terminal_safe(k)] = terminal_safe_strings(item, k);
  return out;
}

void print_text(std::ostream& out, const std::vector<DistinctFinding>& findings,
                const std::vector<Report>& reports, const TextOptions& options) {
  SourceLocations lines(options.debuginfo_dirs);
  if (options.symbolize) gather(findings, lines);
  bool full_stacks = options.full_stacks;
  std::map<std::string, long> by_kind;
  for (const auto& d : findings) {
    const json f = terminal_safe_strings(d.finding);
    std::string kind = str(f, "kind", "unknown");
    by_kind[kind] += 1;
    out << "==================================================================\n";
    out << "loopsan: " << kind << ": " << str(f, "message") << "\n";
    std::string guilty = guilty_frame(f, lines);
    if (!guilty.empty()) out << "  at " << guilty << "\n";
    const json thread = f.contains("thread") ? f["thread"] : json::object();
    out << "  thread " << num(thread, "tid") << " \"" << str(thread, "name") << "\" ("
        << str(thread, "role", "other") << ") in " << terminal_safe(d.process);
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
      if (shown || value.is_array()) continue;
      if (value.is_object()) {
        if (key != "exception") out << "  " << key << ": " << object_text(value) << "\n";
        continue;
      }
      out << "  " << key << ": " << scalar_text(value) << "\n";
    }
    print_stacks(out, f, lines, full_stacks, "");
    print_samples(out, f, lines);
    print_threads(out, f, lines, full_stacks);
    out << "\n  report: " << terminal_safe(d.report_path) << " (id " << str(f, "id") << ")\n";
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
void add_source_locations(json& value, const SourceLocations& lines) {
  if (!is_native_stack(value)) {
    // Stacks may be nested (a hung-wait's threads[].stack).
    if (value.is_array() || value.is_object()) {
      for (auto& item : value) add_source_locations(item, lines);
    }
    return;
  }
  for (auto& frame : value) {
    if (!frame.is_object() || !frame.contains("module")) continue;
    const std::vector<SourceLocation>* locs = lines.find(frame);
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

void print_json(std::ostream& out, const std::vector<DistinctFinding>& findings,
                const TextOptions& options) {
  SourceLocations lines(options.debuginfo_dirs);
  if (options.symbolize) gather(findings, lines);
  for (const auto& d : findings) {
    json f = d.finding;
    if (options.symbolize) add_source_locations(f, lines);
    f["occurrences"] = d.occurrences;
    f["report"] = d.report_path;
    out << f.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  }
}

int usage(std::ostream& out, int status) {
  out << "usage: loopsan report [--format text|json|sarif|html] [--suppressions] [--full-stacks]\n"
         "                      [--no-symbolize] [--debuginfo-path DIR[:DIR...]]\n"
         "                      [--source-root DIR] [--error-exitcode N] FILE_OR_DIR...\n"
         "  Reads loopsan report files (or the loopsan.*.jsonl files of directories), merges\n"
         "  findings with the same id and prints them.\n"
         "  --format text   sanitizer-style report for people (default)\n"
         "  --format json   one JSON object per distinct finding, with \"occurrences\"\n"
         "  --format sarif  SARIF 2.1.0 for code scanning: a rule per kind, a result per\n"
         "                  finding at the user's guilty line, its stacks as code flows\n"
         "  --format html   one self-contained page: timeline (timeline=1), findings, stacks\n"
         "  --source-root DIR  SARIF: files under DIR by paths relative to it (%SRCROOT%)\n"
         "  --suppressions  instead of the report, suppression rules (kind@file:function)\n"
         "                  that silence exactly these findings, for suppressions=FILE\n"
         "  --full-stacks   every frame: the interpreter's too, native and Python apart\n"
         "  --no-symbolize  do not look up file:line and inlined functions (DWARF)\n"
         "  --debuginfo-path DIR[:DIR...]  look for separate debug files there first (laid\n"
         "                  out as /usr/lib/debug: .build-id/xx/rest.debug, debuglink names)\n"
         "  --error-exitcode N  exit with N if there is at least one finding\n";
  return status;
}

}  // namespace

int report_command(const std::vector<std::string>& args) {
  std::string format = "text";
  TextOptions options;
  int error_exitcode = 0;
  bool suppressions = false;
  SarifOptions sarif;
  std::vector<std::string> inputs;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") return usage(std::cout, 0);
    if (a == "--format" && i + 1 < args.size()) {
      format = args[++i];
    } else if (a.rfind("--format=", 0) == 0) {
      format = a.substr(9);
    } else if (a == "--suppressions") {
      suppressions = true;
    } else if (a == "--source-root" && i + 1 < args.size()) {
      sarif.source_root = args[++i];
    } else if (a.rfind("--source-root=", 0) == 0) {
      sarif.source_root = a.substr(14);
    } else if (a == "--full-stacks") {
      options.full_stacks = true;
    } else if (a == "--no-symbolize") {
      options.symbolize = false;
    } else if ((a == "--debuginfo-path" && i + 1 < args.size()) ||
               a.rfind("--debuginfo-path=", 0) == 0) {
      std::string path = a == "--debuginfo-path" ? args[++i] : a.substr(17);
      for (size_t from = 0; from <= path.size();) {
        size_t colon = std::min(path.find(':', from), path.size());
        if (colon > from) options.debuginfo_dirs.push_back(path.substr(from, colon - from));
        from = colon + 1;
      }
    } else if (a == "--error-exitcode" && i + 1 < args.size()) {
      error_exitcode = atoi(args[++i].c_str());
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      std::cerr << "loopsan report: unknown option " << a << "\n";
      return usage(std::cerr, 2);
    } else {
      inputs.push_back(a);
    }
  }
  if (format != "text" && format != "json" && format != "sarif" && format != "html") {
    std::cerr << "loopsan report: unknown format '" << format << "' (text, json, sarif or html)\n";
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
  if (suppressions || format == "sarif") {
    SourceLocations lines(options.debuginfo_dirs);
    if (options.symbolize) gather(findings, lines);
    if (suppressions) {
      print_suppressions(std::cout, findings, lines);
    } else {
      print_sarif(std::cout, findings, lines, sarif);
    }
  } else if (format == "json") {
    print_json(std::cout, findings, options);
  } else if (format == "html") {
    print_html(std::cout, findings, reports,
               {options.symbolize, options.full_stacks, options.debuginfo_dirs});
  } else {
    print_text(std::cout, findings, reports, options);
  }
  return (error_exitcode != 0 && !findings.empty()) ? error_exitcode : 0;
}

}  // namespace loopsan::cli
