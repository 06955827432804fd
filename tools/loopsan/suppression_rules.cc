#include "tools/loopsan/suppression_rules.h"

#include <map>

#include "tools/loopsan/guilty_frame.h"
#include "tools/loopsan/report_json.h"
#include "tools/loopsan/text_clean.h"

namespace loopsan::cli {

using nlohmann::json;

namespace {

// Every top-level stack the agent matches a rule against, the guilty frame's first.
constexpr std::initializer_list<const char*> kRuleStacks = {"python_stack",
                                                            "js_stack",
                                                            "throw_stack",
                                                            "stack",
                                                            "sampled_stack",
                                                            "throw_python_stack",
                                                            "created_python_stack",
                                                            "created_stack",
                                                            "gil_holder_python_stack",
                                                            "gil_holder_stack"};

// `text` as a glob that matches exactly it. What a rule file cannot hold stands for itself
// as a wildcard: `?` for a byte (`#` starts a comment, control characters would break the
// line, blanks at either end would be trimmed), `*` for a character a reader may not see as
// it is (U+FFFD, where the report had bytes that were not UTF-8; bidirectional controls,
// which reorder how the line displays), since `?` is one byte in the C locale. `colon`:
// escape ':' too (it would end the file glob).
std::string literal_glob(const std::string& text, bool colon) {
  static const std::string kReplacement = "\xEF\xBF\xBD";
  std::string out;
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8_char_length(text, i);
    unsigned char c = static_cast<unsigned char>(text[i]);
    bool edge = i == 0 || i + 1 == text.size();
    if (n == 0 || bidi_control(text, i) || text.compare(i, 3, kReplacement) == 0) {
      if (out.empty() || out.back() != '*') out += '*';
      i += n == 0 ? 1 : n;
      continue;
    }
    if (c == '#' || c < 0x20 || c == 0x7F || (edge && c == ' ')) {
      out += '?';
    } else if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\' || (colon && c == ':')) {
      out += '\\';
      out += static_cast<char>(c);
    } else {
      out.append(text, i, n);
    }
    i += n;
  }
  return out;
}

// A Python or JavaScript file by its name under any directory: the rule holds on another
// checkout of the same code.
std::string file_glob(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return literal_glob(path, true);
  return "*/" + literal_glob(path.substr(slash + 1), true);
}

bool own_module(const std::string& module) {
  return basename_of(module).rfind("libloopsan", 0) == 0;
}

// The innermost frame with a name that is not loopsan's own, in the same stacks.
GuiltyFrame innermost_named(const json& f) {
  GuiltyFrame out;
  for (const char* key : kRuleStacks) {
    if (!f.contains(key) || !f[key].is_array()) continue;
    std::string name = key;
    bool script = name.find("python_stack") != std::string::npos || name == "js_stack";
    int index = -1;
    for (const json& frame : f[key]) {
      ++index;
      std::string function = str(frame, "function");
      if (function.empty() || (!script && own_module(str(frame, "module")))) continue;
      out.frame = &frame;
      out.stack = key;
      out.index = index;
      out.script = script;
      return out;
    }
  }
  return out;
}

std::string comment_text(const std::string& text) {
  return truncate_utf8(clean_utf8(text, ' '), 300);
}

}  // namespace

std::string suppression_rule(const json& f, const SourceLocations& lines, bool* fallback) {
  if (fallback != nullptr) *fallback = false;
  if (!f.is_object()) return {};
  std::string kind = str(f, "kind");
  if (kind.empty() || kind.find_first_of("@:#*?[\\ \t\r\n") != std::string::npos) return {};
  GuiltyFrame g = find_guilty_frame(f, lines, kRuleStacks, /*named=*/true);
  if (!g) {
    g = innermost_named(f);
    if (!g) return {};
    if (fallback != nullptr) *fallback = true;
  }
  const json& frame = *g.frame;
  // The frame's own name, as the agent matches it: for a native frame the symbol-table name
  // (the out-of-line function, even when the guilty line is in a function inlined into it).
  std::string function = str(frame, "function");
  // GCC's " [clone .cold]" / " [clone .isra.0]" parts name how this build split the function,
  // not the function: the rule matches every clone of it, so that it holds on the next build.
  std::string clones;
  if (!g.script) {
    size_t clone = function.find(" [clone ");
    if (clone != std::string::npos) {
      function.resize(clone);
      clones = "*";
    }
  }
  std::string file = g.script ? file_glob(str(frame, g.stack == "js_stack" ? "script" : "file"))
                              : literal_glob(basename_of(str(frame, "module")), true);
  if (file.empty()) return kind + ":" + literal_glob(function, false) + clones;
  return kind + "@" + file + ":" + literal_glob(function, false) + clones;
}

void print_suppressions(std::ostream& out, const std::vector<DistinctFinding>& findings,
                        const SourceLocations& lines) {
  out << "# loopsan suppressions, one rule per finding: kind@file:function (README: \"Reports\n"
         "# for code scanning and suppressions\"). Use: LOOPSAN_OPTIONS=suppressions=FILE\n";
  // One block per rule, in the order of the findings; a finding without a rule is a block of
  // comments of its own.
  std::vector<std::pair<std::string, std::vector<std::string>>> blocks;
  std::map<std::string, size_t> block_of;
  for (const auto& d : findings) {
    const json& f = d.finding;
    bool fallback = false;
    std::string rule = suppression_rule(f, lines, &fallback);
    std::string about = "# " + comment_text(str(f, "kind", "unknown")) + ": " +
                        comment_text(str(f, "message")) + " (id " + comment_text(str(f, "id")) +
                        ", " + comment_text(d.report_path) + ")";
    if (rule.empty()) {
      about += "\n# no frame with a name to match: no rule can name only this finding";
      blocks.push_back({"", {about}});
      continue;
    }
    if (fallback) {
      about +=
          "\n# no frame of the program's own: the rule names the innermost frame outside "
          "loopsan, which may silence other findings too";
    }
    auto [it, added] = block_of.try_emplace(rule, blocks.size());
    if (added) blocks.push_back({rule, {}});
    blocks[it->second].second.push_back(about);
  }
  for (const auto& [rule, abouts] : blocks) {
    out << "\n";
    for (const std::string& about : abouts) out << about << "\n";
    if (!rule.empty()) out << rule << "\n";
  }
}

}  // namespace loopsan::cli
