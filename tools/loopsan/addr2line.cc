#include "tools/loopsan/addr2line.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

extern char** environ;

namespace loopsan::cli {

bool run_and_capture(const std::vector<std::string>& argv, std::string& out) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return false;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (rc != 0) {
    close(pipe_fds[0]);
    return false;
  }
  char buf[65536];
  ssize_t n;
  while ((n = read(pipe_fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void Addr2Line::add(const std::string& module, unsigned long offset) {
  if (module.empty() || module[0] != '/') return;
  if (found_.count({module, offset}) != 0) return;
  pending_[module].push_back(offset);
}

namespace {

bool is_address_line(const std::string& line) {
  if (line.size() < 3 || line.compare(0, 2, "0x") != 0) return false;
  return line.find_first_not_of("0123456789abcdef", 2) == std::string::npos;
}

// "file:line" or "file:line (discriminator N)"; false for "??:0" and "??:?".
bool parse_location(const std::string& text, SourceLocation& out) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || text.compare(0, 2, "??") == 0) return false;
  out.file = text.substr(0, colon);
  out.line = atoi(text.c_str() + colon + 1);
  return out.line > 0;
}

}  // namespace

void Addr2Line::resolve() {
  for (auto& [module, offsets] : pending_) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(module, ec)) continue;
    // -a: each address first, then -f -i: function and location of every inlined level.
    std::vector<std::string> argv = {"addr2line", "-a", "-f", "-i", "-C", "-e", module};
    for (unsigned long off : offsets) {
      // Offsets are return addresses: the call is the instruction before.
      char text[32];
      snprintf(text, sizeof text, "0x%lx", off > 0 ? off - 1 : 0);
      argv.push_back(text);
    }
    std::string out;
    if (!run_and_capture(argv, out)) continue;
    std::istringstream lines(out);
    std::string line;
    long index = -1;
    std::vector<SourceLocation> current;
    auto flush = [&] {
      if (index >= 0 && index < static_cast<long>(offsets.size()) && !current.empty()) {
        found_[{module, offsets[static_cast<size_t>(index)]}] = current;
      }
      current.clear();
    };
    while (std::getline(lines, line)) {
      if (is_address_line(line)) {
        flush();
        ++index;
        continue;
      }
      std::string location;
      if (!std::getline(lines, location)) break;
      SourceLocation loc;
      loc.function = line == "??" ? "" : line;
      if (parse_location(location, loc)) current.push_back(std::move(loc));
    }
    flush();
  }
  pending_.clear();
}

const std::vector<SourceLocation>* Addr2Line::find(const std::string& module,
                                                   unsigned long offset) const {
  auto it = found_.find({module, offset});
  return it == found_.end() ? nullptr : &it->second;
}

}  // namespace loopsan::cli
