// libFuzzer target: `loopsan report` on a report file of any content. Reports come from killed
// processes, full disks, hand edits and other versions: the reader and every output format must
// take any bytes without crashing or throwing, and `--format json` must still print one valid
// JSON object per line.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/loopsan/commands.h"

namespace {

// Runs `loopsan report ARGS PATH` with its output captured.
int report(std::vector<std::string> args, const std::string& path, std::string& out) {
  std::ostringstream captured, discarded;
  std::streambuf* old_out = std::cout.rdbuf(captured.rdbuf());
  std::streambuf* old_err = std::cerr.rdbuf(discarded.rdbuf());
  args.push_back(path);
  int status = loopsan::cli::report_command(args);
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  out = captured.str();
  return status;
}

}  // namespace

// The CLI's main.cc is not linked in; report_command needs nothing else from it.
std::string loopsan::cli::shim_path() {
  return "/nonexistent/libloopsan.so";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The report as a file without touching the disk: a memfd, read by its /proc path.
  int fd = memfd_create("report", MFD_CLOEXEC);
  if (fd < 0) return 0;
  for (size_t done = 0; done < size;) {
    ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  std::string out;
  // Every output but json's, which is checked below.
  for (const char* format : {"text", "sarif", "html"}) {
    report({"--no-symbolize", "--format", format}, path, out);
  }
  report({"--no-symbolize", "--suppressions"}, path, out);
  report({"--no-symbolize", "--format", "json"}, path, out);
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (!nlohmann::json::parse(line, nullptr, false).is_object()) abort();
  }
  close(fd);
  return 0;
}
