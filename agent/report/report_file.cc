#include "agent/report/report_file.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "agent/base/text.h"
#include "agent/base/lock.h"
#include "agent/base/log.h"
#include "agent/base/options.h"
#include "agent/core/process_info.h"
#include "agent/base/sys.h"

namespace loopsan::report_file {
namespace {

Lock lock;
std::string* dir = nullptr;
std::atomic<int> fd{-1};
dev_t file_dev = 0;
ino_t file_ino = 0;
bool failed = false;  // creation failed once: warned, do not retry for every finding
char path_buf[PATH_MAX];

int raw_open(const char* path, int flags, mode_t mode) {
  return static_cast<int>(sys::call_with(SYS_openat, AT_FDCWD, path, flags, mode));
}

bool raw_fstat(int f, struct stat* st) {
  return sys::call_with(SYS_fstat, f, st) == 0;
}

// Our descriptor still refers to our file (the host did not close or replace it).
bool fd_is_ours(int f) {
  struct stat st;
  return f >= 0 && raw_fstat(f, &st) && st.st_dev == file_dev && st.st_ino == file_ino;
}

bool write_line(int f, const std::string& json) {
  std::string line = json;
  line.push_back('\n');
  return sys::write_all(f, line.data(), line.size());
}

// Creates a fresh file (with its start line). Called with `lock` held.
bool create_locked() {
  if (failed || dir == nullptr) return false;
  std::string base = cat(*dir, "/loopsan.", process_info::exe_basename(), ".", process_info::pid());
  for (int attempt = 0; attempt < 100; ++attempt) {
    // A second image in the same pid (exec) gets its own file next to the first.
    std::string candidate = attempt == 0 ? cat(base, ".jsonl") : cat(base, ".", attempt, ".jsonl");
    int f = raw_open(candidate.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (f < 0 && errno == EEXIST) continue;
    if (f < 0) {
      failed = true;
      log_line(cat("cannot create report file ", candidate, ": ", strerror(errno),
                   "; findings are only printed on stderr"));
      return false;
    }
    f = sys::move_to_high_fd(f);
    struct stat st;
    raw_fstat(f, &st);
    file_dev = st.st_dev;
    file_ino = st.st_ino;
    snprintf(path_buf, sizeof path_buf, "%s", candidate.c_str());
    fd.store(f, std::memory_order_release);
    write_line(f, process_info::start_line_json());
    return true;
  }
  failed = true;
  log_line(cat("cannot create a report file named ", base, ".*.jsonl"));
  return false;
}

// Makes `fd` usable: creates the file, or reopens it if the host closed our descriptor.
// Called with `lock` held.
bool ensure_open_locked() {
  int f = fd.load(std::memory_order_acquire);
  if (f < 0) return create_locked();
  if (fd_is_ours(f)) return true;
  // Closed (or replaced) behind our back. Never close `f`: that number may now be the host's.
  int reopened = raw_open(path_buf, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0);
  if (reopened >= 0) {
    reopened = sys::move_to_high_fd(reopened);
    if (fd_is_ours(reopened)) {
      fd.store(reopened, std::memory_order_release);
      return true;
    }
    sys::close(reopened);
  }
  // The file itself was removed or replaced: start a new one.
  fd.store(-1, std::memory_order_release);
  return create_locked();
}

}  // namespace

void init() {
  std::string d = options().report_dir;
  if (d.empty() || d[0] != '/') {
    char cwd[PATH_MAX];
    std::string base = getcwd(cwd, sizeof cwd) != nullptr ? cwd : ".";
    d = d.empty() ? base : cat(base, "/", d);
  }
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  dir = new std::string(d);
}

bool append(const std::string& json) {
  LockGuard g(lock);
  if (!ensure_open_locked()) return false;
  return write_line(fd.load(std::memory_order_relaxed), json);
}

bool append_raw_signal_safe(const char* data, size_t len) {
  // Wait briefly for a writer in progress, but never forever: it may be the thread we
  // interrupted.
  bool locked = false;
  for (int i = 0; i < 1000 && !(locked = lock.try_lock()); ++i) {
    timespec pause{0, 10000};
    sys::call_with(SYS_nanosleep, &pause, nullptr);
  }
  bool ok = false;
  int f = fd.load(std::memory_order_acquire);
  if (fd_is_ours(f)) {
    ok = sys::write_all(f, data, len);
  } else if (f >= 0) {
    int reopened = raw_open(path_buf, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0);
    if (reopened >= 0) {
      if (fd_is_ours(reopened)) ok = sys::write_all(reopened, data, len);
      sys::close(reopened);
    }
  }
  if (locked) lock.unlock();
  return ok;
}

bool is_open() {
  return fd.load(std::memory_order_acquire) >= 0;
}

std::string path() {
  LockGuard g(lock);
  return fd.load() >= 0 ? std::string(path_buf) : std::string();
}

const char* path_cstr() {
  return fd.load(std::memory_order_acquire) >= 0 ? path_buf : "";
}

void sync() {
  LockGuard g(lock);
  int f = fd.load(std::memory_order_relaxed);
  if (fd_is_ours(f)) sys::call_with(SYS_fdatasync, f);
}

void create_now() {
  LockGuard g(lock);
  ensure_open_locked();
}

void reset_after_fork() {
  // Whatever a holder at the fork was doing, the child forgets the parent's file below.
  lock.reset_after_fork();
  int f = fd.exchange(-1);
  if (f >= 0) sys::close(f);
  failed = false;
  path_buf[0] = '\0';
}

}  // namespace loopsan::report_file
