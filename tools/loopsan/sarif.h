// `loopsan report --format sarif`: findings as SARIF 2.1.0 for code scanning (GitHub's
// subset: rules with help, results with a file:line location and partialFingerprints).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "tools/loopsan/report_reader.h"
#include "tools/loopsan/source_locations.h"

namespace loopsan::cli {

struct SarifOptions {
  // Files under this directory get URIs relative to it (uriBaseId %SRCROOT%), as code
  // scanning wants them; others, absolute file: URIs. Empty: every URI absolute.
  std::string source_root;
};

// One run: a rule per finding kind (findings.def's, then any other kind the reports hold)
// and a result per distinct finding.
void print_sarif(std::ostream& out, const std::vector<DistinctFinding>& findings,
                 const SourceLocations& lines, const SarifOptions& options);

}  // namespace loopsan::cli
