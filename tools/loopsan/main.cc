// The loopsan command line tool.
#include <limits.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "tools/loopsan/commands.h"

namespace loopsan::cli {

std::string install_prefix() {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  std::string exe = n > 0 ? std::string(self, static_cast<size_t>(n)) : "loopsan";
  std::string bin = exe.substr(0, exe.rfind('/'));
  return bin + "/..";
}

std::string shim_path() {
  return install_prefix() + "/lib/libloopsan.so";
}

}  // namespace loopsan::cli

namespace {

int usage(std::ostream& out, int status) {
  out << "loopsan " << LOOPSAN_VERSION
      << ": finds concurrency bugs in programs that mix event loops, thread pools and futures\n"
         "\n"
         "usage:\n"
         "  loopsan run [--report-dir DIR] [--error-exitcode N] [-o key=value]... -- PROGRAM "
         "ARGS...\n"
         "      run PROGRAM under loopsan and summarize the findings of its process tree\n"
         "  loopsan report [--format text|json|sarif] [--suppressions] FILE_OR_DIR...\n"
         "      print reports for people (text), tools (json) or code scanning (sarif),\n"
         "      or suppression rules that silence their findings\n"
         "  loopsan selftest [--verbose] [--json] [--only NAMES] [--require RUNTIMES] ...\n"
         "      run the bundled canaries: which detectors are live on this machine\n"
         "  loopsan --version | --help\n"
         "\n"
         "Without the CLI: LD_PRELOAD="
      << loopsan::cli::shim_path()
      << " PROGRAM\n"
         "Options: LOOPSAN_OPTIONS=\"key=value:...\" (LOOPSAN_OPTIONS=help=1 lists them)\n";
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage(std::cerr, 2);
  const std::string command = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "--version" || command == "version") {
    std::cout << "loopsan " << LOOPSAN_VERSION << "\n";
    return 0;
  }
  if (command == "--help" || command == "-h" || command == "help") return usage(std::cout, 0);
  if (command == "run") return loopsan::cli::run_command(rest);
  if (command == "report") return loopsan::cli::report_command(rest);
  if (command == "selftest") return loopsan::cli::selftest_command(rest);
  std::cerr << "loopsan: unknown command '" << command << "'\n";
  return usage(std::cerr, 2);
}
