#include "agent/report/suppressions.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/base/log.h"
#include "agent/base/options.h"
#include "agent/base/sys.h"
#include "agent/base/text.h"

namespace loopsan::suppressions {
namespace {

std::vector<Rule>* rules = nullptr;  // set once at start-up, read-only afterwards

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

bool read_file(const std::string& path, std::string& out) {
  int fd =
      static_cast<int>(sys::call_with(SYS_openat, AT_FDCWD, path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd < 0) return false;
  char buf[4096];
  ssize_t n;
  while ((n = sys::call_with(SYS_read, fd, buf, sizeof buf)) > 0)
    out.append(buf, static_cast<size_t>(n));
  sys::close(fd);
  return n == 0;
}

bool glob(const std::string& pattern, const std::string& text) {
  return !text.empty() && fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

// The first ':' not escaped by a backslash. A kind never holds a backslash, so for a
// `kind:pattern` line this is its first colon, as it always was.
size_t separator(const std::string& line) {
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\') {
      ++i;
    } else if (line[i] == ':') {
      return i;
    }
  }
  return std::string::npos;
}

// A rule's function pattern and file glob against one frame's function and file (a native
// frame's module matches by its path or its file name).
bool frame_matches(const Rule& r, const std::string& function, const std::string& file,
                   const std::string& module_name = {}) {
  if (r.file.empty()) {
    return glob(r.pattern, function) || glob(r.pattern, module_name.empty() ? file : module_name);
  }
  return glob(r.pattern, function) && (glob(r.file, file) || glob(r.file, module_name));
}

}  // namespace

std::vector<Rule> parse(const std::string& text, std::vector<std::string>& problems,
                        std::vector<std::string>& warnings) {
  std::vector<Rule> out;
  size_t start = 0;
  for (int number = 1; start <= text.size(); ++number) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    line = trim(line);
    if (line.empty()) continue;
    size_t colon = separator(line);
    if (colon == std::string::npos) {
      problems.push_back(cat("line ", number, ": '", line, "' is not kind:pattern; skipped"));
      continue;
    }
    Rule r{trim(line.substr(0, colon)), trim(line.substr(colon + 1)), number, {}};
    if (size_t at = r.kind.find('@'); at != std::string::npos) {
      r.file = trim(r.kind.substr(at + 1));
      r.kind = trim(r.kind.substr(0, at));
      if (r.file.empty()) {
        problems.push_back(cat("line ", number, ": empty file glob after '@'; skipped"));
        continue;
      }
    }
    Kind kind = r.kind == "*" ? Kind::kCount : kind_from_name(r.kind);
    if (r.kind != "*" && kind == Kind::kCount) {
      problems.push_back(cat("line ", number, ": unknown finding kind '", r.kind, "'; skipped"));
      continue;
    }
    if (r.pattern.empty()) {
      problems.push_back(cat("line ", number, ": empty pattern; skipped"));
      continue;
    }
    if (r.kind != "*" && !kind_implemented(kind)) {
      warnings.push_back(cat("line ", number, ": no detector emits kind '", r.kind, "' yet; line ",
                             number, " never matches"));
    }
    out.push_back(std::move(r));
  }
  return out;
}

void init() {
  const std::string& path = options().suppressions;
  if (path.empty()) return;
  std::string text;
  if (!read_file(path, text)) {
    log_line(cat("warning: cannot read suppressions file '", path, "'; no finding is suppressed"));
    return;
  }
  std::vector<std::string> problems, warnings;
  auto* parsed = new std::vector<Rule>(parse(text, problems, warnings));
  // Problems first: a skipped line changes what is suppressed, a dormant rule does not yet.
  problems.insert(problems.end(), warnings.begin(), warnings.end());
  const int total = static_cast<int>(problems.size());
  for (int i = 0; i < total && i < kMaxWarningLines; ++i) {
    log_line(cat("warning: suppressions file '", path, "', ", problems[static_cast<size_t>(i)]));
  }
  if (total > kMaxWarningLines) {
    log_line(cat("warning: suppressions file '", path, "': ", total - kMaxWarningLines,
                 " more problem(s) not shown"));
  }
  rules = parsed;
}

bool matches(const Rule& r, const Finding& finding, const NativeStacks& native) {
  if (r.kind != "*" && r.kind != kind_name(finding.kind)) return false;
  for (const auto& [name, frames] : native) {
    for (const Frame& f : frames) {
      if (frame_matches(r, f.function, f.module, module_basename(f.module))) return true;
    }
  }
  for (const auto& [name, frames] : finding.python_stacks) {
    for (const auto& f : frames) {
      if (frame_matches(r, f.function, f.file)) return true;
    }
  }
  for (const auto& [name, frames] : finding.js_stacks) {
    for (const auto& f : frames) {
      if (frame_matches(r, f.function, f.script)) return true;
    }
  }
  return false;
}

bool suppressed(const Finding& finding, const NativeStacks& native) {
  if (rules == nullptr || rules->empty()) return false;
  for (const Rule& r : *rules) {
    if (matches(r, finding, native)) return true;
  }
  return false;
}

}  // namespace loopsan::suppressions
