#include "tools/loopsan/sarif.h"

#include <filesystem>
#include <map>

#include "tools/loopsan/guilty_frame.h"
#include "tools/loopsan/report_json.h"
#include "tools/loopsan/stack_text.h"

namespace loopsan::cli {

using nlohmann::json;

namespace {

// A SARIF rule's texts: findings.def's meaning and help rows.
struct KindText {
  std::string id, name, meaning, level = "warning", why, fix;
};

std::vector<KindText> known_kinds() {
  std::vector<KindText> kinds = {
#define LOOPSAN_FINDING(enumerator, name, implemented, meaning, fields) \
  {name, #enumerator, meaning, "warning", "", ""},
#define LOOPSAN_FINDING_HELP(name, level, why, fix)
#include "agent/report/findings.def"
#undef LOOPSAN_FINDING
#undef LOOPSAN_FINDING_HELP
  };
  struct Help {
    const char *id, *level, *why, *fix;
  };
  static const Help helps[] = {
#define LOOPSAN_FINDING(...)
#define LOOPSAN_FINDING_HELP(name, level, why, fix) {name, level, why, fix},
#include "agent/report/findings.def"
#undef LOOPSAN_FINDING
#undef LOOPSAN_FINDING_HELP
  };
  for (KindText& k : kinds) {
    for (const Help& h : helps) {
      if (k.id != h.id) continue;
      k.level = h.level;
      k.why = h.why;
      k.fix = h.fix;
    }
  }
  return kinds;
}

std::string sentence(std::string text) {
  if (!text.empty() && text[0] >= 'a' && text[0] <= 'z') text[0] = static_cast<char>(text[0] - 32);
  if (!text.empty() && text.back() != '.') text += '.';
  return text;
}

json rule_json(const KindText& k) {
  std::string full = sentence(k.meaning) + (k.why.empty() ? "" : " " + k.why);
  std::string fix = k.fix.empty() ? "" : "\n\nFix: " + k.fix;
  std::string markdown = "**" + sentence(k.meaning) + "**" + (k.why.empty() ? "" : "\n\n" + k.why) +
                         (k.fix.empty() ? "" : "\n\n**Fix:** " + k.fix) +
                         "\n\nThe result's code flow is the stack loopsan recorded; `loopsan "
                         "report` prints the whole finding.";
  return {{"id", k.id},
          {"name", k.name},
          {"shortDescription", {{"text", sentence(k.meaning)}}},
          {"fullDescription", {{"text", full}}},
          {"help", {{"text", full + fix}, {"markdown", markdown}}},
          {"defaultConfiguration", {{"level", k.level}}},
          {"properties",
           {{"tags", {"concurrency", "reliability"}},
            {"precision", "high"},
            {"problem.severity", k.level == "error" ? "error" : "warning"}}}};
}

// A message's text. SARIF reads "[text](id)" in a message as a link: brackets from a report
// are escaped, so that no string of the program's can make one.
json message(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '[' || c == ']') out += '\\';
    out += c;
  }
  return {{"text", out}};
}

// RFC 3986: every byte outside the unreserved set and '/' percent-encoded.
std::string percent_encode(const std::string& path) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// `value` printed with a two-space indent, as if nested `depth` spaces deep; `first`: the
// first line too (an array element; an object member's value follows its key).
std::string indented(const json& value, size_t depth, bool first) {
  std::string text = value.dump(2, ' ', false, json::error_handler_t::replace);
  std::string pad(depth, ' ');
  std::string out = first ? pad : "";
  for (char c : text) {
    out += c;
    if (c == '\n') out += pad;
  }
  return out;
}

class Builder {
 public:
  Builder(const SourceLocations& lines, const SarifOptions& options)
      : lines_(lines), root_(options.source_root) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  }

  // An artifactLocation for a file, or null when `file` names none (a Python "<string>").
  json artifact(const std::string& file) const {
    if (file.empty() || file[0] == '<') return nullptr;
    if (file[0] != '/') {
      json a = {{"uri", percent_encode(file)}};
      if (!root_.empty()) a["uriBaseId"] = "%SRCROOT%";
      return a;
    }
    if (!root_.empty() && file.size() > root_.size() + 1 &&
        file.compare(0, root_.size(), root_) == 0 && (file[root_.size()] == '/' || root_ == "/")) {
      size_t from = root_ == "/" ? 1 : root_.size() + 1;
      return {{"uri", percent_encode(file.substr(from))}, {"uriBaseId", "%SRCROOT%"}};
    }
    return {{"uri", "file://" + percent_encode(file)}};
  }

  // A location: the file and line when known, the function always.
  json location(const std::string& function, const std::string& file, long line,
                const std::string& text) const {
    json loc = json::object();
    json a = artifact(file);
    if (!a.is_null()) {
      json physical = {{"artifactLocation", a}};
      if (line >= 1) physical["region"] = {{"startLine", line}};
      loc["physicalLocation"] = physical;
    }
    if (!function.empty()) {
      loc["logicalLocations"] = json::array({{{"name", function}, {"kind", "function"}}});
    }
    if (!text.empty()) loc["message"] = message(text);
    return loc;
  }

  // The guilty frame of `f` in `keys` as a location; null when none.
  json guilty_location(const json& f, std::initializer_list<const char*> keys,
                       const std::string& what) const {
    GuiltyFrame g = find_guilty_frame(f, lines_, keys);
    if (!g) return nullptr;
    std::string file = g.file;
    // A native frame without DWARF lines: its module is the artifact.
    if ((file.empty() || file[0] != '/') && !g.script) file = str(*g.frame, "module");
    json loc = location(g.function, file, g.line, what.empty() ? g.text : what + ": " + g.text);
    if (!g.script) loc["properties"] = native_properties(*g.frame);
    return loc;
  }

  static json native_properties(const json& frame) {
    json p = {{"module", str(frame, "module")}, {"offset", str(frame, "offset")}};
    if (frame.contains("build_id")) p["build_id"] = str(frame, "build_id");
    return p;
  }

  // One frame's threadFlowLocations, innermost first: a native frame's inlined functions come
  // before the function they were inlined into.
  void frame_steps(const json& frame, bool script, bool js, json& steps) const {
    if (!frame.is_object()) return;
    if (script) {
      std::string function = str(frame, "function", js ? "<anonymous>" : "??");
      std::string file = str(frame, js ? "script" : "file");
      long line = num(frame, "line", 0);
      std::string text = function + " at " + file + (line > 0 ? ":" + std::to_string(line) : "");
      json step = {{"location", location(function, file, line, text)}};
      if (js && num(frame, "column", 0) > 0) {
        step["location"]["physicalLocation"]["region"]["startColumn"] = num(frame, "column");
        if (!step["location"]["physicalLocation"].contains("artifactLocation")) {
          step["location"].erase("physicalLocation");
        }
      }
      steps.push_back(step);
      return;
    }
    std::string module = str(frame, "module");
    std::string function = str(frame, "function");
    std::vector<std::tuple<std::string, std::string, long, bool>> levels;  // innermost first
    if (const auto* locs = lines_.find(frame); locs != nullptr && !locs->empty()) {
      for (size_t k = 0; k + 1 < locs->size(); ++k) {
        levels.emplace_back((*locs)[k].function, (*locs)[k].file, (*locs)[k].line, true);
      }
      levels.emplace_back(function, locs->back().file, locs->back().line, false);
    } else {
      // A report symbolized already (--format json) carries its lines.
      if (frame.contains("inlined") && frame["inlined"].is_array()) {
        for (const json& in : frame["inlined"]) {
          levels.emplace_back(str(in, "function"), str(in, "file"), num(in, "line", 0), true);
        }
      }
      levels.emplace_back(function, str(frame, "file"), num(frame, "line", 0), false);
    }
    for (const auto& [name, source, line, inlined] : levels) {
      // DWARF's relative paths (glibc's "../csu/libc-start.c") are relative to a build
      // directory the report does not know: named in the text, not linked as a file.
      std::string file = !source.empty() && source[0] == '/' ? source : "";
      std::string shown = name.empty() ? "??" : name;
      std::string text =
          shown +
          (!source.empty()  ? " at " + source + ":" + std::to_string(line)
           : module.empty() ? " (unknown module)"
                            : " (" + basename_of(module) + "+" + str(frame, "offset") + ")") +
          (inlined ? " (inlined)" : "");
      json loc = location(name, file, line, text);
      loc["properties"] = native_properties(frame);
      if (inlined) loc["properties"]["inlined"] = true;
      json step = {{"location", loc}};
      if (!module.empty()) step["module"] = module;
      steps.push_back(step);
    }
  }

  // A stack as threadFlowLocations in execution order (SARIF's: the outermost call first,
  // the innermost, where the finding happened, last). A Python finding's native and Python
  // stacks are one stack, as the text report prints them.
  json stack_steps(const json& f, const char* key) const {
    json steps = json::array();
    std::string name = key;
    if (name == "merged") {
      // The blocking call itself first, as the text report prints it: the native stack of a
      // Python finding starts at the builtin that made it.
      if (f.contains("call") && f["call"].is_string()) {
        std::string call = f["call"];
        steps.push_back({{"location", location(call, "", 0, call + " (libc)")}});
      }
      for (const MergedFrame& m : merged_python_stack(f))
        frame_steps(*m.frame, m.python, false, steps);
    } else {
      bool python = name.find("python_stack") != std::string::npos;
      bool js = name == "js_stack";
      for (const json& frame : f[key]) frame_steps(frame, python || js, js, steps);
    }
    json ordered = json::array();
    for (size_t i = steps.size(); i-- > 0;) ordered.push_back(std::move(steps[i]));
    return ordered;
  }

  // The stack a finding (or one of its threads) is about: the merged one when the text
  // report merges, else the first of these it has.
  static const char* main_stack(const json& f) {
    if (can_merge_python(f)) return "merged";
    for (const char* key : {"python_stack", "js_stack", "stack", "sampled_stack", "throw_stack",
                            "throw_python_stack", "created_python_stack", "created_stack"}) {
      if (f.contains(key) && f[key].is_array() && !f[key].empty()) return key;
    }
    return nullptr;
  }

  json thread_flow(const json& steps, const std::string& text) const {
    return {{"message", message(text)}, {"locations", steps}};
  }

  static std::string thread_text(const json& t) {
    std::string text = "thread " + std::to_string(num(t, "tid")) + " \"" + str(t, "name") + "\"";
    if (t.contains("role")) text += " (" + str(t, "role") + ")";
    if (t.contains("state")) text += ": " + str(t, "state");
    std::string call = str(t, "waiting_in");
    if (!call.empty() && call != "-") text += " in " + call;
    return text;
  }

  json result(const DistinctFinding& d, const std::map<std::string, size_t>& rule_index,
              const std::map<std::string, std::string>& levels) const {
    const json& f = d.finding;
    std::string kind = str(f, "kind");
    if (kind.empty()) kind = "unknown";
    json r = {{"ruleId", kind}, {"ruleIndex", rule_index.at(kind)}, {"level", levels.at(kind)}};
    std::string text = str(f, "message");
    r["message"] = message(text.empty() ? "loopsan found a " + kind + " finding." : text);

    const json thread =
        f.contains("thread") && f["thread"].is_object() ? f["thread"] : json::object();
    std::string subject = "thread " + std::to_string(num(thread, "tid")) + " \"" +
                          str(thread, "name") + "\" (" + str(thread, "role", "other") + ")";

    json primary = guilty_location(f, kGuiltyStacks, "");
    // A thread leak's own stacks are the runtime's: the user's line is where it was created.
    if (primary.is_null()) {
      primary =
          guilty_location(f, {"throw_python_stack", "created_python_stack", "created_stack"}, "");
    }
    const char* main = main_stack(f);
    if (primary.is_null() && main != nullptr) {
      // No frame of the user's: where the finding happened, as the stack's innermost frame.
      json steps = stack_steps(f, main);
      if (!steps.empty()) primary = steps.back()["location"];
    }
    if (primary.is_null()) primary = {{"message", message("no stack was recorded")}};
    r["locations"] = json::array({primary});

    std::string id = str(f, "id");
    if (id.empty()) id = fallback_id(f);
    r["partialFingerprints"] = {{"loopsanFindingId/v1", id}};

    json code_flows = json::array();
    json related = json::array();
    int next_id = 1;
    auto relate = [&](json loc) {
      if (loc.is_null()) return;
      loc["id"] = next_id++;
      related.push_back(std::move(loc));
    };
    if (main != nullptr) {
      json flows = json::array();
      json steps = stack_steps(f, main);
      if (!steps.empty()) flows.push_back(thread_flow(steps, "Stack of " + subject));
      // Threads the finding is about (a deadlock's cycle, a hung wait's other threads, leaked
      // threads) run beside it: one threadFlow each in the same codeFlow.
      if (f.contains("threads") && f["threads"].is_array()) {
        long subject_tid = num(thread, "tid", -1);
        for (const json& t : f["threads"]) {
          if (!t.is_object()) continue;
          std::string what = thread_text(t);
          if (num(t, "tid", -2) != subject_tid) {
            relate(guilty_location(t, {"python_stack", "js_stack", "stack"}, what));
          }
          const char* key = main_stack(t);
          if (key == nullptr || (num(t, "tid", -2) == subject_tid && !steps.empty())) continue;
          json thread_steps = stack_steps(t, key);
          if (!thread_steps.empty()) flows.push_back(thread_flow(thread_steps, "Stack of " + what));
        }
      }
      if (f.contains("gil_holder_stack") || f.contains("gil_holder_python_stack")) {
        json holder = json::object();
        if (f.contains("gil_holder_python_stack"))
          holder["python_stack"] = f["gil_holder_python_stack"];
        if (f.contains("gil_holder_stack")) holder["stack"] = f["gil_holder_stack"];
        std::string what = "the thread holding the GIL";
        relate(guilty_location(holder, {"python_stack", "stack"}, what));
        if (const char* key = main_stack(holder)) {
          json holder_steps = stack_steps(holder, key);
          if (!holder_steps.empty()) flows.push_back(thread_flow(holder_steps, "Stack of " + what));
        }
      }
      if (!flows.empty()) {
        code_flows.push_back({{"message", message(str(f, "message"))}, {"threadFlows", flows}});
      }
    }
    // Where the exception was thrown, and where the thread or future was created: other
    // moments than the finding's, each a codeFlow of its own.
    for (auto [python, native, what] :
         {std::tuple{"throw_python_stack", "throw_stack", "where the exception was thrown"},
          std::tuple{"created_python_stack", "created_stack", "where it was created"}}) {
      relate(guilty_location(f, {python, native}, what));
      for (const char* key : {python, native}) {
        if (main != nullptr && std::string(main) == key) continue;
        if (!f.contains(key) || !f[key].is_array()) continue;
        json steps = stack_steps(f, key);
        if (steps.empty()) continue;
        std::string title = std::string(key).find("python") != std::string::npos
                                ? "Python stack " + std::string(what)
                                : "Native stack " + std::string(what);
        code_flows.push_back({{"message", message(title)},
                              {"threadFlows", json::array({thread_flow(steps, title)})}});
      }
    }
    if (!code_flows.empty()) r["codeFlows"] = code_flows;
    if (!related.empty()) r["relatedLocations"] = related;

    json properties = json::object();
    for (const auto& [key, value] : f.items()) {
      bool stack = key.size() >= 5 && key.compare(key.size() - 5, 5, "stack") == 0;
      if (stack || key == "type" || key == "kind" || key == "id" || key == "message" ||
          key == "threads" || key == "samples") {
        continue;
      }
      properties[key] = value;
    }
    properties["occurrences"] = d.occurrences;
    if (d.reports > 1) properties["reports"] = d.reports;
    properties["report"] = d.report_path;
    properties["process"] = d.process;
    r["properties"] = properties;
    return r;
  }

  static std::string fallback_id(const json& f) {
    // A finding without an id (a hand-edited report): one from its content, stable for it.
    std::string text = f.dump(-1, ' ', false, json::error_handler_t::replace);
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : text) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
    char out[17];
    snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
    return out;
  }

 private:
  const SourceLocations& lines_;
  std::string root_;
};

}  // namespace

void print_sarif(std::ostream& out, const std::vector<DistinctFinding>& findings,
                 const SourceLocations& lines, const SarifOptions& given) {
  SarifOptions options = given;
  if (!options.source_root.empty()) {
    // "--source-root ." is the usual spelling in CI: URIs need the absolute directory.
    std::error_code ec;
    std::filesystem::path root = std::filesystem::absolute(options.source_root, ec);
    if (!ec) options.source_root = root.lexically_normal().string();
  }
  std::vector<KindText> kinds = known_kinds();
  std::map<std::string, size_t> rule_index;
  std::map<std::string, std::string> levels;
  for (const KindText& k : kinds) {
    rule_index[k.id] = rule_index.size();
    levels[k.id] = k.level;
  }
  // Kinds this CLI does not know (a newer agent's): a rule each, so every result has one.
  for (const auto& d : findings) {
    std::string kind = str(d.finding, "kind");
    if (kind.empty()) kind = "unknown";
    if (rule_index.count(kind) != 0) continue;
    KindText k{kind,
               "Other",
               "a finding of a kind this version of loopsan does not describe",
               "warning",
               "The report was written by another version of loopsan; its message says what it is.",
               ""};
    rule_index[kind] = kinds.size();
    levels[kind] = k.level;
    kinds.push_back(k);
  }
  json rules = json::array();
  for (const KindText& k : kinds) rules.push_back(rule_json(k));

  json tool = {{"driver",
                {{"name", "loopsan"},
                 {"version", LOOPSAN_VERSION},
                 {"semanticVersion", LOOPSAN_VERSION},
                 {"rules", rules}}}};
  // The log as nlohmann would print it whole (keys sorted, two-space indent), written a result
  // at a time: ten thousand findings' results held at once took 1.6 GB.
  out << "{\n  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n"
      << "  \"runs\": [\n    {\n";
  if (!options.source_root.empty()) {
    std::string root = options.source_root;
    if (root.back() != '/') root += '/';
    json bases = {{"%SRCROOT%", {{"uri", "file://" + percent_encode(root)}}}};
    out << "      \"originalUriBaseIds\": " << indented(bases, 6, false) << ",\n";
  }
  out << "      \"results\": [";
  Builder builder(lines, options);
  for (size_t i = 0; i < findings.size(); ++i) {
    out << (i == 0 ? "\n" : ",\n")
        << indented(builder.result(findings[i], rule_index, levels), 8, true);
  }
  out << (findings.empty() ? "],\n" : "\n      ],\n");
  out << "      \"tool\": " << indented(tool, 6, false) << "\n    }\n  ],\n"
      << "  \"version\": \"2.1.0\"\n}\n";
}

}  // namespace loopsan::cli
