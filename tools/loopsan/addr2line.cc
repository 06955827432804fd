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

void Addr2Line::resolve() {
  for (auto& [module, offsets] : pending_) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(module, ec)) continue;
    std::vector<std::string> argv = {"addr2line", "-a", "-e", module};
    for (unsigned long off : offsets) {
      // Offsets are return addresses: the call is the instruction before.
      char text[32];
      snprintf(text, sizeof text, "0x%lx", off > 0 ? off - 1 : 0);
      argv.push_back(text);
    }
    std::string out;
    if (!run_and_capture(argv, out)) continue;
    // Output: for each address, "0x..." then "file:line" (addr2line without -f).
    std::istringstream lines(out);
    std::string addr_line, loc_line;
    size_t i = 0;
    while (i < offsets.size() && std::getline(lines, addr_line) && std::getline(lines, loc_line)) {
      size_t colon = loc_line.rfind(':');
      if (colon != std::string::npos && loc_line.compare(0, 2, "??") != 0) {
        std::string line_text = loc_line.substr(colon + 1);
        size_t space = line_text.find(' ');  // "12 (discriminator 3)"
        int line = atoi(line_text.substr(0, space).c_str());
        if (line > 0)
          found_[{module, offsets[i]}] = SourceLocation{loc_line.substr(0, colon), line};
      }
      ++i;
    }
  }
  pending_.clear();
}

const SourceLocation* Addr2Line::find(const std::string& module, unsigned long offset) const {
  auto it = found_.find({module, offset});
  return it == found_.end() ? nullptr : &it->second;
}

}  // namespace loopsan::cli
