// `loopsan selftest [--verbose] [--keep DIR] [--only NAMES] [--json] [--require RUNTIMES] ...`
#include "tools/loopsan/selftest.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "tools/loopsan/canary_runner.h"
#include "tools/loopsan/canary_verdict.h"
#include "tools/loopsan/commands.h"

namespace loopsan::cli {

const char* runtime_name(Runtime r) {
  switch (r) {
    case Runtime::Native:
      return "native";
    case Runtime::Python:
      return "python";
    case Runtime::Node:
      return "node";
  }
  return "?";
}

std::string canary_name(const Canary& c) {
  return std::string(runtime_name(c.runtime)) + "/" + c.mode;
}

namespace {

std::string under_prefix(const std::string& dir) {
  return !dir.empty() && dir[0] == '/' ? dir : install_prefix() + "/" + dir;
}

std::string clean_path(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : p.string();
}

std::string canary_program(Runtime r) {
  if (r == Runtime::Native) {
    return clean_path(under_prefix(LOOPSAN_LIBEXEC_DIR) + "/loopsan/loopsan-canary");
  }
  std::string scripts = under_prefix(LOOPSAN_DATA_DIR) + "/loopsan/canaries/";
  return clean_path(scripts + (r == Runtime::Python ? "canary.py" : "canary.js"));
}

// Short thresholds, so that every canary is reported within about a second; the hang
// threshold stays above what starting a thread can take on a loaded machine (a clean
// canary's Thread.start() waited 300 ms at load 14 on 2 cores).
constexpr char kSelftestOptions[] = "hang_threshold_ms=1000:starvation_threshold_ms=200";
constexpr int kCanaryDeadlineMs = 5000;

struct RuntimeInfo {
  bool available = false;
  std::string program;  // the interpreter to run (its real executable, not a wrapper script)
  std::string version;
  std::string why_not;  // when not available
  std::string label() const { return version.empty() ? "native" : program_label + " " + version; }
  std::string program_label;
};

// python3 and node as PATH (or --python/--node) gives them, asked without the shim for their
// version and real executable: a version manager's wrapper script (pyenv's shims) is not
// what should run under loopsan.
RuntimeInfo probe(Runtime r, const std::string& requested) {
  RuntimeInfo info;
  std::string name = !requested.empty() ? requested : (r == Runtime::Python ? "python3" : "node");
  info.program_label = r == Runtime::Python ? "python3" : "node";
  std::string found = find_program(name);
  if (found.empty()) {
    info.why_not = name + " not found";
    return info;
  }
  std::vector<std::string> argv =
      r == Runtime::Python
          ? std::vector<std::string>{found, "-c",
                                     "import sys, platform; print(sys.executable); "
                                     "print(platform.python_version())"}
          : std::vector<std::string>{found, "-e",
                                     "console.log(process.execPath); "
                                     "console.log(process.versions.node)"};
  std::string out;
  auto env = environment_without({"LD_PRELOAD", "LOOPSAN_OPTIONS"});
  if (!capture_output(argv, env, 20, out)) {
    info.why_not = found + " does not run";
    return info;
  }
  std::istringstream lines(out);
  std::string executable, version;
  std::getline(lines, executable);
  std::getline(lines, version);
  info.available = true;
  info.program = !executable.empty() && access(executable.c_str(), X_OK) == 0 ? executable : found;
  info.version = version.empty() ? "?" : version;
  return info;
}

struct Settings {
  bool verbose = false;
  bool json = false;
  std::string keep;
  std::set<std::string> only;
  std::set<std::string> required;
  std::string python, node, shim;
  std::vector<std::string> options;
  double timeout_s = 20;
  int jobs = 2;
};

int usage(std::ostream& out, int status) {
  out << "usage: loopsan selftest [--verbose] [--json] [--keep DIR] [--only NAMES]\n"
         "                        [--require RUNTIMES] [--python PATH] [--node PATH]\n"
         "                        [--shim PATH] [-o key=value]... [--timeout S] [--jobs N]\n"
         "  Runs the bundled canaries (one known bug per detector, and clean programs) under\n"
         "  loopsan and says which detectors are live here. Exits 0 when every canary that\n"
         "  could run is live, 1 when one is broken (or a required runtime is missing).\n"
         "  --only NAMES      comma-separated: a detector (finding kind), a canary (mode), a\n"
         "                    runtime (native, python, node) or runtime/mode\n"
         "  --require LIST    runtimes that must be present (native,python,node): a skipped\n"
         "                    one then fails the selftest\n"
         "  --python, --node  the interpreters to test (default: python3 and node on PATH)\n"
         "  --shim PATH       test this libloopsan.so (default: the one next to this program)\n"
         "  -o key=value      a LOOPSAN_OPTIONS setting for the canaries; LOOPSAN_OPTIONS\n"
         "                    applies too, after the selftest's short thresholds\n"
         "  --keep DIR        keep each canary's report and output in DIR/RUNTIME-MODE/\n"
         "  --timeout S       per canary (default 20); --jobs N: canaries at a time (2)\n"
         "  --json            one JSON object instead of the table\n";
  return status;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) {
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

bool selected(const Canary& c, const std::set<std::string>& only) {
  if (only.empty()) return true;
  return only.count(c.kind) || only.count(c.mode) || only.count(runtime_name(c.runtime)) ||
         only.count(canary_name(c));
}

bool known_name(const std::string& name) {
  for (const Canary& c : kCanaries) {
    if (selected(c, {name})) return true;
  }
  return false;
}

// Parses the arguments; returns -1 to go on, else the exit status.
int parse(const std::vector<std::string>& args, Settings& s) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& to) {
      if (i + 1 >= args.size()) return false;
      to = args[++i];
      return true;
    };
    std::string v;
    if (a == "--help" || a == "-h") return usage(std::cout, 0);
    if (a == "--verbose" || a == "-v") {
      s.verbose = true;
    } else if (a == "--json") {
      s.json = true;
    } else if (a == "--keep" && value(s.keep)) {
    } else if (a == "--python" && value(s.python)) {
    } else if (a == "--node" && value(s.node)) {
    } else if (a == "--shim" && value(s.shim)) {
    } else if (a == "-o" && value(v)) {
      s.options.push_back(v);
    } else if (a == "--only" && value(v)) {
      for (const std::string& name : split_list(v)) {
        if (!known_name(name)) {
          std::cerr << "loopsan selftest: --only: no canary is named '" << name << "'\n";
          return 2;
        }
        s.only.insert(name);
      }
    } else if (a == "--require" && value(v)) {
      for (const std::string& name : split_list(v)) {
        if (name != "native" && name != "python" && name != "node") {
          std::cerr << "loopsan selftest: --require takes native, python and node\n";
          return 2;
        }
        s.required.insert(name);
      }
    } else if (a == "--timeout" && value(v)) {
      char* end = nullptr;
      s.timeout_s = strtod(v.c_str(), &end);
      if (*end != '\0' || !(s.timeout_s > 0)) {
        std::cerr << "loopsan selftest: --timeout takes seconds\n";
        return 2;
      }
    } else if ((a == "--jobs" || a == "-j") && value(v)) {
      s.jobs = atoi(v.c_str());
      if (s.jobs < 1) {
        std::cerr << "loopsan selftest: --jobs takes a number >= 1\n";
        return 2;
      }
    } else {
      std::cerr << "loopsan selftest: unknown or incomplete option " << a << "\n";
      return usage(std::cerr, 2);
    }
  }
  return -1;
}

struct Row {
  const Canary* canary;
  std::string dir;
  std::string runtime_label;
  bool skipped = false;
  std::string skip_why;
  ChildResult result;
  Verdict verdict;
  std::string command;
};

std::string status_text(const Row& r) {
  if (r.skipped) return "skipped (" + r.skip_why + ")";
  if (r.verdict.live) return "live";
  return "BROKEN (" + r.verdict.why + ")";
}

std::string status_word(const Row& r) {
  return r.skipped ? "skipped" : r.verdict.live ? "live" : "broken";
}

std::string seconds_text(double s) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(s < 10 ? 2 : 1) << s << "s";
  return out.str();
}

std::string tail_of(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  std::string line;
  while (std::getline(in, line)) all.push_back(line);
  std::string text;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
    text += "      | " + all[i] + "\n";
  }
  return text;
}

void print_table(const std::vector<Row>& rows, const Settings& s) {
  std::cout << std::left << std::setw(23) << "detector" << std::setw(23) << "canary"
            << std::setw(16) << "runtime" << std::setw(8) << "time"
            << "status\n";
  for (const Row& r : rows) {
    const Canary& c = *r.canary;
    std::string kind = *c.kind ? c.kind : "(none: clean)";
    std::cout << std::left << std::setw(23) << kind << std::setw(23) << c.mode << std::setw(16)
              << r.runtime_label << std::setw(8)
              << (r.skipped ? "-" : seconds_text(r.result.seconds)) << status_text(r) << "\n";
    bool broken = !r.skipped && !r.verdict.live;
    if (!r.skipped && (broken || s.verbose) && !r.verdict.hooks_off.empty()) {
      std::string list;
      for (const auto& h : r.verdict.hooks_off) list += (list.empty() ? "" : ", ") + h;
      std::cout << "    hooks reported off: " << list << "\n";
    }
    if (s.verbose && !r.skipped) {
      std::cout << "    ran: " << r.command << "\n";
      if (!r.verdict.message.empty()) std::cout << "    finding: " << r.verdict.message << "\n";
      if (broken) {
        std::string err = tail_of(r.dir + "/stderr", 8);
        if (!err.empty()) std::cout << "    its stderr, last lines:\n" << err;
      }
    }
    if (broken && !s.keep.empty()) std::cout << "    report and output: " << r.dir << "\n";
  }
}

nlohmann::json as_json(const std::vector<Row>& rows, const std::string& shim, double seconds,
                       bool ok) {
  nlohmann::json out;
  out["version"] = LOOPSAN_VERSION;
  out["shim"] = shim;
  out["seconds"] = seconds;
  out["ok"] = ok;
  std::map<std::string, int> counts{{"live", 0}, {"broken", 0}, {"skipped", 0}};
  nlohmann::json canaries = nlohmann::json::array();
  for (const Row& r : rows) {
    const Canary& c = *r.canary;
    nlohmann::json j;
    j["name"] = canary_name(c);
    j["runtime"] = runtime_name(c.runtime);
    j["runtime_version"] = r.runtime_label;
    j["mode"] = c.mode;
    j["kind"] = c.kind;
    j["frame"] = c.frame;
    j["status"] = status_word(r);
    counts[status_word(r)] += 1;
    j["why"] = r.skipped ? r.skip_why : r.verdict.why;
    if (!r.skipped) {
      j["seconds"] = r.result.seconds;
      j["hooks_off"] = r.verdict.hooks_off;
      if (!r.verdict.message.empty()) j["message"] = r.verdict.message;
    }
    canaries.push_back(j);
  }
  for (const auto& [k, n] : counts) out[k] = n;
  out["canaries"] = canaries;
  return out;
}

std::string make_work_dir(const Settings& s) {
  if (!s.keep.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(s.keep, ec);
    return clean_path(s.keep);
  }
  const char* tmp = getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/loopsan-selftest.XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) return {};
  return pattern;
}

std::vector<Report> reports_in(const std::string& dir) {
  std::vector<std::string> errors;
  std::vector<Report> reports;
  for (const std::string& path : expand_inputs({dir}, errors)) {
    Report r;
    std::string error;
    if (read_report(path, r, error)) reports.push_back(std::move(r));
  }
  return reports;
}

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

int selftest_command(const std::vector<std::string>& args) {
  Settings s;
  if (int status = parse(args, s); status >= 0) return status;
  double started = now_s();

  std::string shim = clean_path(s.shim.empty() ? shim_path() : s.shim);
  struct stat st;
  if (stat(shim.c_str(), &st) != 0) {
    std::cerr << "loopsan selftest: cannot find the shim at " << shim << "\n";
    return 2;
  }
  std::string work = make_work_dir(s);
  if (work.empty()) {
    std::cerr << "loopsan selftest: cannot make a temporary directory\n";
    return 2;
  }

  // Which runtimes are here (asked only when a selected canary needs them).
  std::map<Runtime, RuntimeInfo> runtimes;
  runtimes[Runtime::Native].available = true;
  for (const Canary& c : kCanaries) {
    if (!selected(c, s.only) || runtimes.count(c.runtime)) continue;
    runtimes[c.runtime] = probe(c.runtime, c.runtime == Runtime::Python ? s.python : s.node);
  }

  std::string options = kSelftestOptions;
  if (const char* user = getenv("LOOPSAN_OPTIONS"); user != nullptr && *user) {
    options += std::string(":") + user;
  }
  for (const std::string& o : s.options) options += ":" + o;
  std::string preload = shim;
  if (const char* existing = getenv("LD_PRELOAD"); existing != nullptr && *existing) {
    preload += std::string(" ") + existing;
  }
  std::vector<std::string> base_env =
      environment_without({"LD_PRELOAD", "LOOPSAN_OPTIONS", "LOOPSAN_SESSION"});
  int deadline_ms = std::min(kCanaryDeadlineMs, static_cast<int>(s.timeout_s * 500));

  std::vector<Row> rows;
  std::vector<ChildSpec> specs;
  std::vector<size_t> spec_row;
  for (const Canary& c : kCanaries) {
    if (!selected(c, s.only)) continue;
    Row row;
    row.canary = &c;
    const RuntimeInfo& rt = runtimes[c.runtime];
    row.runtime_label = rt.available ? rt.label() : runtime_name(c.runtime);
    if (!rt.available) {
      row.skipped = true;
      row.skip_why = rt.why_not;
      rows.push_back(row);
      continue;
    }
    row.dir = work + "/" + runtime_name(c.runtime) + "-" + c.mode;
    std::error_code ec;
    std::filesystem::remove_all(row.dir, ec);
    std::filesystem::create_directories(row.dir, ec);
    ChildSpec spec;
    std::string program = canary_program(c.runtime);
    if (c.runtime == Runtime::Native) {
      spec.argv = {program, c.mode, std::to_string(deadline_ms)};
    } else if (c.runtime == Runtime::Python) {
      spec.argv = {rt.program, program, c.mode, std::to_string(deadline_ms)};
    } else {
      spec.argv = {rt.program, program, c.mode, row.dir};
    }
    spec.env = base_env;
    spec.env.push_back("LD_PRELOAD=" + preload);
    spec.env.push_back("LOOPSAN_OPTIONS=" + options + ":report_dir=" + option_value(row.dir) +
                       ":report_always=1:exitcode=0");
    spec.stdout_path = row.dir + "/stdout";
    spec.stderr_path = row.dir + "/stderr";
    for (const auto& a : spec.argv) row.command += (row.command.empty() ? "" : " ") + a;
    if (access(program.c_str(), R_OK) != 0) {
      row.verdict.why = "canary missing: " + program;
      rows.push_back(row);
      continue;
    }
    spec_row.push_back(rows.size());
    specs.push_back(spec);
    rows.push_back(row);
  }

  if (!s.json) {
    std::cout << "loopsan selftest: " << rows.size() << (rows.size() == 1 ? " canary" : " canaries")
              << " under " << shim << " (" << s.jobs << " at a time)\n";
    if (options != kSelftestOptions) std::cout << "options: " << options << "\n";
    std::cout.flush();
  }
  std::vector<ChildResult> results;
  auto enough = [&](size_t i) {
    const Row& row = rows[spec_row[i]];
    if (row.canary->ends != End::Stopped) return false;
    Ending so_far;
    so_far.exit_status = 0;
    return judge(*row.canary, so_far, reports_in(row.dir)).live;
  };
  auto on_done = [&](size_t i) {
    Row& row = rows[spec_row[i]];
    const ChildResult& r = results[i];
    row.result = r;
    Ending ending;
    ending.timed_out = r.timed_out;
    ending.stopped = r.stopped;
    ending.exit_status = r.started ? r.exit_status : 127;
    ending.signal = r.signal;
    ending.seconds = r.seconds;
    row.verdict = judge(*row.canary, ending, reports_in(row.dir));
  };
  bool finished = run_children(specs, s.jobs, s.timeout_s, results, enough, on_done);
  if (!finished) {
    std::cerr << "loopsan selftest: interrupted\n";
    if (s.keep.empty()) std::filesystem::remove_all(work);
    return 130;
  }

  bool ok = true;
  int broken = 0;
  std::vector<std::string> missing_required;
  for (const Row& r : rows) {
    if (!r.skipped && !r.verdict.live) {
      ok = false;
      ++broken;
    }
    if (r.skipped && s.required.count(runtime_name(r.canary->runtime))) {
      ok = false;
      missing_required.push_back(canary_name(*r.canary));
    }
  }
  double seconds = now_s() - started;
  if (s.json) {
    nlohmann::json out = as_json(rows, shim, seconds, ok);
    out["missing_required"] = missing_required;
    std::cout << out.dump(2) << "\n";
  } else {
    print_table(rows, s);
    int live = 0, skipped = 0;
    for (const Row& r : rows) {
      live += !r.skipped && r.verdict.live;
      skipped += r.skipped;
    }
    std::cout << live << " live, " << broken << " broken, " << skipped << " skipped in "
              << std::fixed << std::setprecision(1) << seconds << " s\n";
    if (!missing_required.empty()) {
      std::cout << "required but skipped (--require):";
      for (const auto& name : missing_required) std::cout << " " << name;
      std::cout << "\n";
    }
    if (broken > 0 && s.keep.empty()) {
      std::cout << "rerun with --verbose --keep DIR to see the canaries' reports and output\n";
    }
  }
  if (s.keep.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(work, ec);
  }
  return ok ? 0 : 1;
}

}  // namespace loopsan::cli
