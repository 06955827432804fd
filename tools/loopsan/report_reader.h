// Reading report files (schema 1) for the CLI: tolerant of anything a killed process, a full
// disk or a hand edit may leave behind.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace loopsan::cli {

struct Report {
  std::string path;
  nlohmann::json start;  // null if the start line is missing
  std::vector<nlohmann::json> findings;
  nlohmann::json summary;                // null if the process never got to write it
  std::vector<nlohmann::json> timeline;  // "timeline" lines (timeline=1), in file order
  int malformed_lines = 0;
  int first_malformed_line = 0;
};

// Reads one report file. Returns false (with `error` set) if it cannot be opened.
bool read_report(const std::string& path, Report& out, std::string& error);

// Expands files and directories (their loopsan.*.jsonl) into report paths, sorted.
std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs,
                                       std::vector<std::string>& errors);

// A finding as shown to people: one per distinct id across all reports.
struct DistinctFinding {
  nlohmann::json finding;
  std::string report_path;
  std::string process;   // "exe pid N"
  long occurrences = 1;  // first report + repeats from summaries
  int reports = 1;       // how many reports have this id
};

std::vector<DistinctFinding> distinct_findings(const std::vector<Report>& reports);

// "kind: N, kind: N" in a stable order.
std::string kinds_text(const std::map<std::string, long>& by_kind);

}  // namespace loopsan::cli
