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
  // libdwfl, in this process: every inlined level with its own name (binutils' addr2line names
  // the innermost level wrongly in common cases), separate debug files by build-id and
  // .gnu_debuglink, one open per module.
  for (auto& [module, offsets] : pending_) {
    for (unsigned long off : offsets) {
      std::vector<SourceLocation> chain = dwarf_.locate(module, off);
      // Only frames with a source location: a name alone adds nothing to the report's own.
      bool located = false;
      for (const SourceLocation& loc : chain) located |= loc.line > 0;
      if (located) found_[{module, off}] = std::move(chain);
    }
  }
  pending_.clear();
}

const std::vector<SourceLocation>* Addr2Line::find(const std::string& module,
                                                   unsigned long offset) const {
  auto it = found_.find({module, offset});
  return it == found_.end() ? nullptr : &it->second;
}

}  // namespace loopsan::cli
