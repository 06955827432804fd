#include "tools/loopsan/html_report.h"

#include <map>
#include <sstream>
#include <utility>

#include "tools/loopsan/guilty_frame.h"
#include "tools/loopsan/html_report_css.h"
#include "tools/loopsan/html_report_html.h"
#include "tools/loopsan/html_report_js.h"
#include "tools/loopsan/report_json.h"
#include "tools/loopsan/source_locations.h"
#include "tools/loopsan/stack_text.h"

namespace loopsan::cli {
namespace {

using nlohmann::json;

// [title, text] for each stack of `f` (a finding or one of its threads), printed by the text
// report's own stack printers, so that names, file:line and the Python splicing match it.
void add_stacks(json& out, const json& f, const SourceLocations& lines, bool full,
                const std::string& of) {
  bool merged = of.empty() && !full && can_merge_python(f);
  if (merged) {
    std::ostringstream text;
    print_merged_python_stack(text, f, lines);
    out.push_back(json::array({"Stack (native and Python, most recent call first)", text.str()}));
  }
  for (const auto& [key, title] : stack_titles()) {
    if (!f.contains(key)) continue;
    if (merged && (std::string(key) == "stack" || std::string(key) == "python_stack")) continue;
    const json& frames = f[key];
    std::ostringstream text;
    if (is_python_stack(frames)) {
      print_python_stack(text, frames);
    } else if (is_js_stack(frames)) {
      print_js_stack(text, frames);
    } else if (is_native_stack(frames)) {
      print_native_stack(text, frames, lines, full);
    } else {
      continue;
    }
    out.push_back(json::array({std::string(title) + of, text.str()}));
  }
}

std::string scalar_text(const json& v) {
  return v.is_string() ? v.get<std::string>()
                       : v.dump(-1, ' ', false, json::error_handler_t::replace);
}

json finding_data(const DistinctFinding& d, const SourceLocations& lines, bool full) {
  const json& f = d.finding;
  json out = json::object();
  out["kind"] = str(f, "kind", "unknown");
  out["message"] = str(f, "message");
  out["guilty"] = guilty_frame(f, lines);
  out["id"] = str(f, "id");
  const json thread =
      f.contains("thread") && f["thread"].is_object() ? f["thread"] : json::object();
  out["tid"] = num(thread, "tid");
  out["tname"] = str(thread, "name");
  out["role"] = str(thread, "role", "other");
  out["process"] = d.process;
  out["report"] = d.report_path;
  out["occ"] = d.occurrences;
  out["reports"] = d.reports;
  if (f.contains("time_ms") && f["time_ms"].is_number()) out["time_ms"] = f["time_ms"];
  json fields = json::array();
  static const char* const kShown[] = {"type", "kind", "id", "seq", "time_ms", "thread", "message"};
  for (const auto& [key, value] : f.items()) {
    bool shown = false;
    for (const char* k : kShown) shown |= key == k;
    if (shown || value.is_array()) continue;
    if (value.is_object()) {
      std::string text;
      for (const auto& [k, v] : value.items()) {
        if (v.is_array() || v.is_object()) continue;
        if (!text.empty()) text += ", ";
        text += k + "=" + scalar_text(v);
      }
      fields.push_back(json::array({key, text}));
    } else {
      fields.push_back(json::array({key, scalar_text(value)}));
    }
  }
  out["fields"] = std::move(fields);
  json stacks = json::array();
  add_stacks(stacks, f, lines, full, "");
  if (f.contains("samples") && f["samples"].is_array() && f["samples"].size() >= 2) {
    std::string text;
    for (const json& sample : f["samples"]) {
      std::string at = guilty_frame(sample, lines);
      if (at.empty()) at = str(sample, "waiting_in", str(sample, "stack_unavailable", "?"));
      text += "    " + std::to_string(num(sample, "count")) + " x " + at + "\n";
    }
    stacks.push_back(json::array({"Samples", text}));
  }
  if (f.contains("threads") && f["threads"].is_array()) {
    long subject = num(thread, "tid");
    for (const json& t : f["threads"]) {
      long tid = num(t, "tid");
      std::string head = "thread " + std::to_string(tid) + " \"" + str(t, "name") + "\"";
      if (t.contains("role")) head += " (" + str(t, "role") + ")";
      head += ": " + str(t, "state", "?");
      std::string call = str(t, "waiting_in");
      if (!call.empty() && call != "-") head += " in " + call;
      if (t.contains("waiting_ms")) head += " for " + std::to_string(num(t, "waiting_ms")) + " ms";
      std::string at = guilty_frame(t, lines);
      if (!at.empty()) head += "\n    at " + at;
      stacks.push_back(json::array({"Thread " + std::to_string(tid), head + "\n"}));
      if (tid == subject && f.contains("stack")) continue;
      add_stacks(stacks, t, lines, full, " of thread " + std::to_string(tid));
    }
  }
  out["stacks"] = std::move(stacks);
  return out;
}

// Builds the page's data: runs (one per report), lanes (one per thread that has timeline
// events or findings), the findings and their markers on the lanes.
json page_data(const std::vector<DistinctFinding>& findings, const std::vector<Report>& reports,
               const HtmlOptions& options) {
  SourceLocations lines(options.debuginfo_dirs);
  if (options.symbolize) {
    for (const auto& d : findings) lines.add_finding(d.finding);
    lines.resolve();
  }
  json data = json::object();
  data["version"] = 1;
  json runs = json::array();
  json lanes = json::array();
  json codes = json::array();
  json strings = json::array();
  std::map<std::string, int> code_index, string_index;
  auto intern = [](json& table, std::map<std::string, int>& index, const std::string& s) {
    auto it = index.find(s);
    if (it != index.end()) return it->second;
    int n = static_cast<int>(table.size());
    table.push_back(s);
    index.emplace(s, n);
    return n;
  };
  std::map<std::pair<int, long>, int> lane_of;  // (run, tid) -> lane
  auto lane = [&](int run, long tid, const std::string& name, const std::string& role) {
    auto key = std::make_pair(run, tid);
    auto it = lane_of.find(key);
    if (it != lane_of.end()) {
      json& l = lanes[it->second];
      if (!name.empty()) l["name"] = name;
      if (!role.empty() && (l["role"] == "other" || role == "loop")) l["role"] = role;
      return it->second;
    }
    int n = static_cast<int>(lanes.size());
    lanes.push_back({{"run", run},
                     {"tid", tid},
                     {"name", name},
                     {"role", role.empty() ? "other" : role},
                     {"ev", json::array()}});
    lane_of.emplace(key, n);
    return n;
  };
  std::map<std::string, int> finding_of;
  json list = json::array();
  for (const auto& d : findings) {
    finding_of.emplace(str(d.finding, "id"), static_cast<int>(list.size()));
    list.push_back(finding_data(d, lines, options.full_stacks));
  }
  json markers = json::array();
  for (size_t r = 0; r < reports.size(); ++r) {
    const Report& rep = reports[r];
    int run = static_cast<int>(r);
    json info = json::object();
    info["label"] =
        basename_of(str(rep.start, "exe", "?")) + " pid " + std::to_string(num(rep.start, "pid"));
    info["path"] = rep.path;
    info["duration_ms"] = rep.summary.is_object() ? num(rep.summary, "duration_ms", -1) : -1;
    info["timeline"] = !rep.timeline.empty();
    if (rep.summary.is_object() && rep.summary.contains("timeline_dropped")) {
      info["dropped"] = num(rep.summary, "timeline_dropped");
    }
    runs.push_back(std::move(info));
    for (const json& t : rep.timeline) {
      int l = lane(run, num(t, "tid"), str(t, "name"), str(t, "role"));
      json& ev = lanes[l]["ev"];
      for (const json& e : t["events"]) {
        if (!e.is_array() || e.size() < 3 || !e[0].is_string() || !e[1].is_number() ||
            !e[2].is_number()) {
          continue;
        }
        json out = json::array({intern(codes, code_index, e[0].get<std::string>()), e[1], e[2]});
        if (e.size() > 3 && e[3].is_string()) {
          out.push_back(intern(strings, string_index, e[3].get<std::string>()));
        }
        ev.push_back(std::move(out));
      }
    }
    for (const json& f : rep.findings) {
      auto it = finding_of.find(str(f, "id"));
      if (it == finding_of.end()) continue;
      const json thread =
          f.contains("thread") && f["thread"].is_object() ? f["thread"] : json::object();
      int l = lane(run, num(thread, "tid"), str(thread, "name"), str(thread, "role"));
      double time =
          f.contains("time_ms") && f["time_ms"].is_number() ? f["time_ms"].get<double>() : 0.0;
      double dur = f.contains("duration_ms") && f["duration_ms"].is_number()
                       ? f["duration_ms"].get<double>()
                       : 0.0;
      markers.push_back(json::array({l, time, dur, it->second}));
    }
  }
  data["runs"] = std::move(runs);
  data["lanes"] = std::move(lanes);
  data["codes"] = std::move(codes);
  data["strings"] = std::move(strings);
  data["findings"] = std::move(list);
  data["markers"] = std::move(markers);
  return data;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

}  // namespace

std::string script_safe_json(const std::string& json_text) {
  // '<' and '>' appear only inside strings: as \u escapes no "</script>" or "<!--" can end or
  // change the data block; U+2028/2029 are escaped for older script parsers.
  std::string out;
  out.reserve(json_text.size() + json_text.size() / 16);
  for (size_t i = 0; i < json_text.size(); ++i) {
    char c = json_text[i];
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else if (c == '\xe2' && i + 2 < json_text.size() && json_text[i + 1] == '\x80' &&
               (json_text[i + 2] == '\xa8' || json_text[i + 2] == '\xa9')) {
      out += json_text[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

void print_html(std::ostream& out, const std::vector<DistinctFinding>& findings,
                const std::vector<Report>& reports, const HtmlOptions& options) {
  json data = page_data(findings, reports, options);
  std::string page = kHtmlReportHtml;
  std::string payload = script_safe_json(data.dump(-1, ' ', false, json::error_handler_t::replace));
  // The data goes in last: nothing in it is ever taken for a placeholder.
  replace_all(page, "/*LOOPSAN_CSS*/", kHtmlReportCss);
  replace_all(page, "/*LOOPSAN_JS*/", kHtmlReportJs);
  size_t at = page.find("/*LOOPSAN_DATA*/");
  if (at != std::string::npos) page.replace(at, 16, payload);
  out << page;
}

}  // namespace loopsan::cli
