#include "tools/loopsan/report_reader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace loopsan::cli {

bool read_report(const std::string& path, Report& out, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot open " + path;
    return false;
  }
  out.path = path;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    std::string type = record.is_object() && record.contains("type") && record["type"].is_string()
                           ? record["type"].get<std::string>()
                           : "";
    if (type == "start") {
      out.start = std::move(record);
    } else if (type == "finding") {
      out.findings.push_back(std::move(record));
    } else if (type == "summary") {
      // A failed exec() can leave two: the last one is the process's end.
      out.summary = std::move(record);
    } else if (type == "test") {
      // A test harness's per-test line (loopsan_test_end): which findings a test hit.
    } else {
      if (out.malformed_lines++ == 0) out.first_malformed_line = number;
    }
  }
  return true;
}

std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs,
                                       std::vector<std::string>& errors) {
  namespace fs = std::filesystem;
  std::vector<std::string> paths;
  for (const std::string& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(input, ec)) {
        std::string name = entry.path().filename().string();
        if (name.rfind("loopsan.", 0) == 0 && name.size() > 6 &&
            name.compare(name.size() - 6, 6, ".jsonl") == 0) {
          found.push_back(entry.path().string());
        }
      }
      std::sort(found.begin(), found.end());
      paths.insert(paths.end(), found.begin(), found.end());
    } else if (fs::exists(input, ec)) {
      paths.push_back(input);
    } else {
      errors.push_back("no such file or directory: " + input);
    }
  }
  return paths;
}

namespace {

std::string string_field(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

long repeats_of(const Report& r, const std::string& id) {
  if (!r.summary.is_object() || !r.summary.contains("repeats")) return 0;
  const auto& repeats = r.summary["repeats"];
  if (!repeats.is_object() || !repeats.contains(id) || !repeats[id].is_number()) return 0;
  return repeats[id].get<long>();
}

}  // namespace

std::vector<DistinctFinding> distinct_findings(const std::vector<Report>& reports) {
  std::vector<DistinctFinding> out;
  std::map<std::string, size_t> by_id;
  for (const Report& r : reports) {
    std::string process = "unknown process";
    if (r.start.is_object()) {
      std::string exe = string_field(r.start, "exe");
      size_t slash = exe.rfind('/');
      process = (slash == std::string::npos ? exe : exe.substr(slash + 1)) + " pid " +
                (r.start.contains("pid") ? r.start["pid"].dump() : "?");
    }
    for (const auto& f : r.findings) {
      std::string id = string_field(f, "id");
      long count = 1 + repeats_of(r, id);
      auto it = id.empty() ? by_id.end() : by_id.find(id);
      if (it != by_id.end()) {
        out[it->second].occurrences += count;
        out[it->second].reports += 1;
        continue;
      }
      if (!id.empty()) by_id[id] = out.size();
      out.push_back(DistinctFinding{f, r.path, process, count, 1});
    }
  }
  return out;
}

std::string kinds_text(const std::map<std::string, long>& by_kind) {
  std::string text;
  for (const auto& [kind, n] : by_kind) {
    if (!text.empty()) text += ", ";
    text += kind + ": " + std::to_string(n);
  }
  return text;
}

}  // namespace loopsan::cli
