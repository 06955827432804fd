// `loopsan report --format html`: one self-contained page (inline CSS and JavaScript, the data
// as JSON in a <script type="application/json"> block) with a per-thread timeline of each run
// (the report's "timeline" lines, timeline=1), the findings grouped by kind, and each
// finding's message, guilty frame and stacks, symbolized as the text report prints them.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "tools/loopsan/report_reader.h"

namespace loopsan::cli {

struct HtmlOptions {
  bool symbolize = true;
  bool full_stacks = false;
  std::vector<std::string> debuginfo_dirs;
};

void print_html(std::ostream& out, const std::vector<DistinctFinding>& findings,
                const std::vector<Report>& reports, const HtmlOptions& options);

// JSON text made safe inside a <script> element: '<', '>' and '&' as \u escapes (so no
// "</script>" or "<!--" in the data can end or change the element), U+2028 and U+2029 too.
std::string script_safe_json(const std::string& json_text);

}  // namespace loopsan::cli
