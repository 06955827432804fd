#include "tools/loopsan/canary_verdict.h"

#include <signal.h>

#include <map>
#include <set>
#include <string>

#include "tools/loopsan/canary_runner.h"
#include "tools/loopsan/guilty_frame.h"
#include "tools/loopsan/report_json.h"
#include "tools/loopsan/source_locations.h"

namespace loopsan::cli {

namespace {

// A canary's exit status when it gave up without a finding because it hardly ran
// (tools/canaries/canary.cc).
constexpr int kCanaryStarvedOfCpu = 4;

bool is_identifier_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '_' || ch == '$';
}

bool names_as_identifier(const std::string& text, const std::string& name) {
  for (size_t at = text.find(name); at != std::string::npos; at = text.find(name, at + 1)) {
    bool starts = at == 0 || !is_identifier_char(text[at - 1]);
    size_t after = at + name.size();
    bool ends = after == text.size() || !is_identifier_char(text[after]);
    if (starts && ends) return true;
  }
  return false;
}

// Where a finding points, as `loopsan report` says it ("wait_for (server.py:12)"), to say what
// a wrong finding named instead.
std::string where(const nlohmann::json& finding) {
  SourceLocations lines;
  lines.add_finding(finding);
  lines.resolve();
  std::string at = guilty_frame(finding, lines);
  return at.empty() ? "no frame of its own" : at;
}

// Interposed functions that may be missing by design (shim/hooks.def's kOptional rows: newer
// than some glibc, or in a library this canary never loads): not what breaks a detector.
bool absent_by_design(const std::string& hook) {
  enum { kRequired, kOptional };
  static const std::set<std::string> optional = {
#define LOOPSAN_HOOK(group, sym, version, need) need == kOptional ? #sym : "",
#define LOOPSAN_BLOCKING(...)
#define LOOPSAN_LOOP_WAIT(...)
#define LOOPSAN_COMPAT(...)
#include "shim/hooks.def"
#undef LOOPSAN_HOOK
#undef LOOPSAN_BLOCKING
#undef LOOPSAN_LOOP_WAIT
#undef LOOPSAN_COMPAT
  };
  return optional.count(hook) > 0;
}

// The options that turn a kind's detector off when 0 (LOOPSAN_OPTIONS, the start line's
// `options`): a broken canary says which of them was 0.
std::vector<std::string> switches_of(const Canary& c) {
  std::string kind = c.kind;
  std::vector<std::string> keys;
  if (kind == "loop-stall") keys = {"stall_threshold_ms"};
  if (kind == "hung-wait") keys = {"hang_threshold_ms", "wait_check_ms"};
  if (kind == "deadlock") keys = {"wait_check_ms"};
  if (kind == "pool-starvation") keys = {"starvation_threshold_ms"};
  if (kind == "thread-leak" && c.runtime == Runtime::Python) keys = {"hang_threshold_ms"};
  if (c.runtime == Runtime::Python) keys.push_back("python_stacks");
  if (c.runtime == Runtime::Node) keys.push_back("js_stacks");
  return keys;
}

std::string switched_off(const Canary& c, const std::vector<Report>& reports) {
  std::string text;
  for (const std::string& key : switches_of(c)) {
    for (const Report& r : reports) {
      const auto& options = r.start.is_object() ? r.start["options"] : nlohmann::json();
      if (options.is_object() && options.contains(key) &&
          (options[key] == 0 || options[key] == false)) {
        text += (text.empty() ? "" : ", ") + key + "=0";
        break;
      }
    }
  }
  return text;
}

}  // namespace

bool names_function(const nlohmann::json& j, const std::string& function) {
  if (j.is_object()) {
    if (j.contains("function") && j["function"].is_string() &&
        names_as_identifier(j["function"].get<std::string>(), function)) {
      return true;
    }
    for (const auto& [key, value] : j.items()) {
      if (value.is_structured() && names_function(value, function)) return true;
    }
  } else if (j.is_array()) {
    for (const auto& item : j) {
      if (names_function(item, function)) return true;
    }
  }
  return false;
}

Verdict judge(const Canary& c, const Ending& ending, const std::vector<Report>& reports) {
  Verdict v;
  // A hook is off when no start line says it was installed: the canaries end with a child
  // whose start line lists the hooks installed after their own start line was written.
  std::map<std::string, bool> installed;
  bool started = false;
  std::vector<nlohmann::json> findings;
  for (const Report& r : reports) {
    if (r.start.is_object()) started = true;
    if (r.start.is_object() && r.start.contains("hooks") && r.start["hooks"].is_object()) {
      for (const auto& [name, on] : r.start["hooks"].items()) {
        installed[name] = installed[name] || on == true;
      }
    }
    findings.insert(findings.end(), r.findings.begin(), r.findings.end());
  }
  for (const auto& [name, on] : installed) {
    if (!on && !absent_by_design(name)) v.hooks_off.push_back(name);
  }

  if (ending.timed_out) {
    std::ostringstream why;
    why << "timed out after " << std::fixed << std::setprecision(1) << ending.seconds << " s";
    v.why = why.str();
    return v;
  }
  bool expected_signal = ending.stopped || (c.ends == End::Aborts && ending.signal == SIGABRT);
  if (ending.signal != 0 && !expected_signal) {
    v.why = "crashed with " + signal_text(ending.signal);
    return v;
  }
  if (ending.exit_status == 127 && !started) {
    v.why = "could not run";
    return v;
  }
  if (!started) {
    v.why = "report missing (the shim did not load)";
    return v;
  }
  std::string kind = c.kind;
  if (kind.empty()) {
    if (findings.empty()) {
      v.live = true;
      return v;
    }
    const auto& f = findings.front();
    v.why = "false positive: " + str(f, "kind") + " at " + where(f);
    if (findings.size() > 1) v.why += " (and " + std::to_string(findings.size() - 1) + " more)";
    v.message = str(f, "message");
    return v;
  }
  std::vector<const nlohmann::json*> of_kind;
  std::set<std::string> others;
  for (const auto& f : findings) {
    if (str(f, "kind") == kind) {
      of_kind.push_back(&f);
    } else {
      others.insert(str(f, "kind"));
    }
  }
  if (of_kind.empty()) {
    v.why = "no finding";
    if (ending.exit_status == kCanaryStarvedOfCpu) {
      v.why += " (the canary got under a tenth of a CPU: the machine is overloaded)";
    }
    std::string off_options = switched_off(c, reports);
    if (!off_options.empty()) v.why += " (" + off_options + ")";
    if (!others.empty()) {
      std::string list;
      for (const auto& k : others) list += (list.empty() ? "" : ", ") + k;
      v.why += "; other kinds: " + list;
    }
    return v;
  }
  const nlohmann::json* framed = nullptr;
  for (const auto* f : of_kind) {
    // A task is named by the pool's registry even when its stacks could not be read (a
    // GIL-contended interpreter may not give them up in time).
    if (names_function(*f, c.frame) || str(*f, "task") == c.frame) {
      framed = f;
      break;
    }
  }
  if (framed == nullptr) {
    v.why = std::string("wrong frame: no ") + c.frame + " in its stacks; it points at " +
            where(*of_kind.front());
    v.message = str(*of_kind.front(), "message");
    return v;
  }
  v.message = str(*framed, "message");
  std::string call = c.call;
  if (!call.empty() && str(*framed, "call") != call) {
    v.why = "wrong call: " + str(*framed, "call", "none") + ", not " + call;
    return v;
  }
  v.live = true;
  return v;
}

}  // namespace loopsan::cli
