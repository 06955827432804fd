// The blocking-call catalogue, call by call: every call of the contract made from an epoll loop's
// callback is one finding naming the call and the function that made it; the same calls where
// they cannot block are none. Loops built on poll/select, nested waits, and descriptor numbers
// that change meaning.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/harness.h"

using namespace loopsan::test;

namespace {

// Every `call` value of the contract (issue 7).
const std::set<std::string> kContractCalls = {
    // sleeps
    "sleep", "usleep", "nanosleep", "clock_nanosleep",
    // name resolution
    "getaddrinfo", "gethostbyname", "gethostbyname2", "gethostbyname_r", "gethostbyname2_r",
    "gethostbyaddr", "gethostbyaddr_r", "getnameinfo", "res_query", "res_search", "res_querydomain",
    "res_nquery", "res_nsearch", "res_nquerydomain",
    // flushing to storage
    "fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "msync",
    // processes, joins
    "wait", "waitpid", "waitid", "wait3", "wait4", "system", "pclose", "pthread_join",
    "pthread_timedjoin_np", "pthread_clockjoin_np",
    // sockets
    "connect", "accept", "accept4", "recv", "recvfrom", "recvmsg", "recvmmsg", "send", "sendto",
    "sendmsg", "sendmmsg",
    // other descriptors
    "read", "readv", "pread", "pread64", "preadv", "preadv2", "preadv64", "write", "writev",
    "pwrite", "pwrite64", "pwritev", "pwritev2", "sendfile", "sendfile64", "splice",
    "copy_file_range",
    // nested waits
    "poll", "ppoll", "select", "pselect", "epoll_wait", "epoll_pwait", "epoll_pwait2",
    // locks and waits
    "pthread_mutex_lock", "pthread_mutex_timedlock", "pthread_mutex_clocklock",
    "pthread_rwlock_rdlock", "pthread_rwlock_wrlock", "pthread_rwlock_timedrdlock",
    "pthread_rwlock_timedwrlock", "pthread_rwlock_clockrdlock", "pthread_rwlock_clockwrlock",
    "pthread_cond_wait", "pthread_cond_timedwait", "pthread_cond_clockwait", "sem_wait",
    "sem_timedwait", "sem_clockwait", "flock", "lockf", "fcntl", "futex"};

// A row of catalogue_victim: "<call>" or "<call>.<variant>", made from blocking_<call>_<variant>.
std::string call_of(const std::string& row) {
  return row.substr(0, row.find('.'));
}
std::string function_of(std::string row) {
  std::replace(row.begin(), row.end(), '.', '_');
  return "blocking_" + row;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs the victims side by side, at most `jobs` at a time, each as run() would (its own report
// directory, the shim preloaded, stdout and stderr kept). run() itself is not used from several
// threads: its list of temporary directories is not shared safely.
std::vector<RunResult> run_all(const std::vector<std::vector<std::string>>& argvs, int jobs = 6,
                               int timeout_s = 60) {
  std::vector<RunResult> results(argvs.size());
  for (auto& r : results) r.report_dir = make_temp_dir();
  struct Running {
    pid_t pid;
    size_t index;
    std::chrono::steady_clock::time_point deadline;
  };
  std::vector<Running> running;
  size_t next = 0;
  while (next < argvs.size() || !running.empty()) {
    while (next < argvs.size() && static_cast<int>(running.size()) < jobs) {
      const std::string& dir = results[next].report_dir;
      pid_t pid = fork();
      if (pid == 0) {
        int out = open((dir + "/stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open((dir + "/stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(out, 1);
        dup2(err, 2);
        setenv("LOOPSAN_OPTIONS", ("report_dir=" + dir).c_str(), 1);
        setenv("LD_PRELOAD", shim_path().c_str(), 1);
        std::vector<char*> argv;
        for (const auto& a : argvs[next]) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
      }
      running.push_back(
          {pid, next, std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s)});
      ++next;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (auto it = running.begin(); it != running.end();) {
      int status = 0;
      pid_t got = waitpid(it->pid, &status, WNOHANG);
      if (got == 0 && std::chrono::steady_clock::now() > it->deadline) {
        kill(it->pid, SIGKILL);
        got = waitpid(it->pid, &status, 0);
        results[it->index].err += "\n[catalogue test: killed after timeout]\n";
      }
      if (got == 0) {
        ++it;
        continue;
      }
      RunResult& r = results[it->index];
      if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
      r.out = read_file(r.report_dir + "/stdout");
      r.err = read_file(r.report_dir + "/stderr") + r.err;
      r.reports = read_reports(r.report_dir);
      it = running.erase(it);
    }
  }
  return results;
}

std::vector<std::string> victim_rows(const std::string& name, const std::string& which = "") {
  std::vector<std::string> argv = {victim(name), "list"};
  if (!which.empty()) argv.push_back(which);
  RunResult r = run({.argv = argv, .preload = false});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.describe());
  return lines_of(r.out);
}

// The finding of a blocking row: exactly one, with the call, the role and the frame.
bool one_finding(const RunResult& r, const std::string& call, const std::string& function,
                 std::string* why) {
  auto findings = r.findings("blocking-call");
  if (r.exit_code != 0) {
    *why = "exit code " + std::to_string(r.exit_code);
  } else if (findings.size() != 1u) {
    *why = std::to_string(findings.size()) + " findings";
    for (const auto& f : findings) *why += " [" + f.value("call", std::string("?")) + "]";
  } else if (findings[0]["call"] != call) {
    *why = "call " + findings[0]["call"].dump();
  } else if (findings[0]["thread"]["role"] != "loop") {
    *why = "role " + findings[0]["thread"]["role"].dump();
  } else if (!stack_has_function(findings[0]["stack"], function)) {
    *why = "no frame " + function;
  } else {
    return true;
  }
  return false;
}

// A descriptor number that changes meaning on the loop thread: closed and reused, replaced with
// dup2()/dup3(), or switched with fcntl(F_SETFL)/ioctl(FIONBIO). Each mode first makes a call on
// the number, then changes it, then calls recv (read) on it again.
struct ReuseCase {
  std::string mode;
  std::string call;      // the one finding's call
  std::string function;  // the one finding's frame
};
void check_reuse(const std::vector<ReuseCase>& cases) {
  std::vector<std::vector<std::string>> argvs;
  for (const auto& c : cases) argvs.push_back({victim("fd_reuse_victim"), c.mode});
  std::vector<RunResult> results = run_all(argvs);
  for (size_t i = 0; i < cases.size(); ++i) {
    const RunResult& r = results[i];
    BOOST_TEST_CONTEXT(cases[i].mode) {
      std::string why;
      BOOST_TEST(one_finding(r, cases[i].call, cases[i].function, &why), why << "\n"
                                                                             << r.describe());
      for (const auto& f : r.findings()) {
        BOOST_TEST(!stack_has_function(f["stack"], "reuse_recv_nonblocking"), f.dump());
        BOOST_TEST(!stack_has_function(f["stack"], "prime_recv_nonblocking"), f.dump());
        BOOST_TEST(!stack_has_function(f["stack"], "prime_read_nonblocking"), f.dump());
      }
    }
  }
}

// Rows of catalogue_victim that must each be one finding: the row, and the `call` values the
// finding may carry.
struct BlockingRow {
  std::string row;
  std::set<std::string> calls;
};

// Runs `catalogue_victim <mode...> <row>` for every row, side by side. A row whose call was not
// reported as it should be fails its own check, and is listed with the reason in one message
// at the end.
void check_blocking_rows(const std::vector<std::string>& mode,
                         const std::vector<BlockingRow>& rows) {
  std::vector<std::vector<std::string>> argvs;
  for (const auto& r : rows) {
    argvs.push_back({victim("catalogue_victim")});
    argvs.back().insert(argvs.back().end(), mode.begin(), mode.end());
    argvs.back().push_back(r.row);
  }
  std::vector<RunResult> results = run_all(argvs);
  std::string failed;
  size_t passed = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const RunResult& r = results[i];
    BOOST_TEST_CONTEXT(rows[i].row) {
      if (r.exit_code == 77) {  // the machine lacks what the row needs (userfaultfd, a pty)
        BOOST_WARN_MESSAGE(false, rows[i].row << " not run: " << r.out);
        continue;
      }
      std::string why;
      bool ok = false;
      for (const std::string& call : rows[i].calls) {
        ok = ok || one_finding(r, call, function_of(rows[i].row), &why);
      }
      BOOST_TEST(ok, why << "\n" << r.describe());
      if (!ok) {
        failed += "  " + rows[i].row + ": " + why + "\n";
        continue;
      }
      ++passed;
      // A wait of block_threshold_ms or more lasted what the victim measured ("<row> waited N
      // ms" on its stdout).
      const nlohmann::json f = r.findings("blocking-call")[0];
      int waited = 0;
      if (sscanf(r.out.c_str(), "%*s waited %d ms", &waited) == 1 && waited >= 250 &&
          f.contains("duration_ms")) {
        BOOST_TEST(f["duration_ms"].get<int>() >= 250, f.dump());
      }
    }
  }
  BOOST_TEST_MESSAGE("catalogue_victim" << (mode.empty() ? "" : " " + mode[0]) << ": " << passed
                                        << " of " << rows.size() << " rows reported\n"
                                        << failed);
}

// The rows of `catalogue_victim list extra` that `wanted` selects.
std::vector<BlockingRow> other_symbols(bool (*wanted)(const std::string& row)) {
  std::vector<BlockingRow> rows;
  for (const std::string& line : victim_rows("catalogue_victim", "extra")) {
    std::istringstream in(line);
    BlockingRow r;
    in >> r.row;
    for (std::string call; in >> call;) r.calls.insert(call);
    if (wanted(r.row)) rows.push_back(r);
  }
  return rows;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(catalogue)

BOOST_AUTO_TEST_CASE(the_victim_has_a_row_for_every_call_of_the_contract) {
  std::set<std::string> covered;
  for (const std::string& row : victim_rows("catalogue_victim")) {
    BOOST_TEST(kContractCalls.count(call_of(row)) == 1u, row << " is not a contract call");
    covered.insert(call_of(row));
  }
  for (const std::string& call : kContractCalls) {
    BOOST_TEST(covered.count(call) == 1u, "no row calls " << call);
  }
}

BOOST_AUTO_TEST_CASE(every_catalogue_call_on_a_loop_thread_is_one_finding) {
  std::vector<BlockingRow> rows;
  for (const std::string& row : victim_rows("catalogue_victim")) {
    rows.push_back({row, {call_of(row)}});
  }
  BOOST_REQUIRE(rows.size() >= kContractCalls.size());
  check_blocking_rows({}, rows);
}

// Symbols the contract does not list that programs call for the same thing: the large-file
// aliases (fcntl64 is what every -D_FILE_OFFSET_BITS=64 build calls: nginx, redis, python3,
// libuv, GLib on Debian), the _FORTIFY_SOURCE entry points (Debian builds with
// -D_FORTIFY_SOURCE=2: memcached and libkrb5 call __poll_chk, libmagic __pread_chk, gdb and
// apt __read_chk), and libresolv's __res_query (programs built before glibc 2.34). A finding
// may name the symbol or the call it stands for.
BOOST_AUTO_TEST_CASE(the_large_file_aliases_are_reported) {
  check_blocking_rows(
      {"extra"}, other_symbols([](const std::string& row) { return row.rfind("__", 0) != 0; }));
}

// __read_chk __recv_chk __recvfrom_chk __pread_chk __pread64_chk __poll_chk __ppoll_chk
// (what -D_FORTIFY_SOURCE programs call) and __res_query (a compatibility symbol only).
BOOST_AUTO_TEST_CASE(the_fortified_and_old_resolver_symbols_are_reported) {
  check_blocking_rows(
      {"extra"}, other_symbols([](const std::string& row) { return row.rfind("__", 0) == 0; }));
}

BOOST_AUTO_TEST_CASE(every_catalogue_call_that_cannot_block_is_quiet) {
  std::vector<std::string> rows = victim_rows("catalogue_victim", "nonblocking");
  std::vector<std::vector<std::string>> argvs;
  for (const auto& row : rows) argvs.push_back({victim("catalogue_victim"), "nonblocking", row});
  std::vector<RunResult> results = run_all(argvs);
  std::string failed;
  for (size_t i = 0; i < rows.size(); ++i) {
    const RunResult& r = results[i];
    BOOST_TEST_CONTEXT(rows[i]) {
      BOOST_TEST(r.exit_code == 0, r.describe());
      auto findings = r.findings();
      BOOST_TEST(findings.empty(), r.describe());
      if (!findings.empty()) {
        failed += "  " + rows[i] + ": " + std::to_string(findings.size()) + " findings [" +
                  findings[0].value("call", std::string("?")) + "]\n";
      }
    }
  }
  BOOST_TEST_MESSAGE("catalogue, quiet twins: " << rows.size() << " rows\n" << failed);
}

// Loops whose wait is poll, ppoll, select or pselect over two descriptors.
BOOST_AUTO_TEST_CASE(poll_and_select_loops_report_their_callbacks) {
  const std::vector<std::string> kinds = {"poll", "ppoll", "select", "pselect"};
  std::vector<std::vector<std::string>> argvs;
  for (const auto& k : kinds) {
    argvs.push_back({victim("poll_loop_victim"), k + "-sleep"});
    argvs.push_back({victim("poll_loop_victim"), k + "-nested"});
  }
  std::vector<RunResult> results = run_all(argvs);
  for (size_t i = 0; i < kinds.size(); ++i) {
    std::string why;
    BOOST_TEST_CONTEXT(kinds[i] << " loop, callback sleeps") {
      const RunResult& r = results[2 * i];
      BOOST_TEST(one_finding(r, "usleep", "loop_callback_sleeps", &why), why << "\n"
                                                                             << r.describe());
    }
    BOOST_TEST_CONTEXT(kinds[i] << " loop, callback polls another descriptor for 100 ms") {
      const RunResult& r = results[2 * i + 1];
      BOOST_TEST(one_finding(r, "poll", "loop_callback_polls", &why), why << "\n" << r.describe());
    }
  }
}

BOOST_AUTO_TEST_CASE(poll_programs_that_do_not_block_a_loop_are_clean) {
  std::vector<std::string> modes = {"single-socket"};
  for (const std::string k : {"poll", "ppoll", "select", "pselect"}) {
    modes.push_back(k + "-zero");     // a zero-timeout poll in a callback
    modes.push_back(k + "-returns");  // blocking shutdown after the loop's function returned
  }
  std::vector<std::vector<std::string>> argvs;
  for (const auto& m : modes) argvs.push_back({victim("poll_loop_victim"), m});
  std::vector<RunResult> results = run_all(argvs);
  for (size_t i = 0; i < modes.size(); ++i) {
    BOOST_TEST_CONTEXT(modes[i]) {
      BOOST_TEST(results[i].exit_code == 0, results[i].describe());
      BOOST_TEST(results[i].findings().empty(), results[i].describe());
    }
  }
}

// The loop's poll is in a function of its own that returns before each callback runs (libevent's
// poll backend, Redis's ae_select.c are built this way): the callback still runs on the loop,
// which lives while the polling function or its caller runs.
BOOST_AUTO_TEST_CASE(a_loop_that_polls_through_a_function_of_its_own_is_a_loop) {
  RunResult r = run({.argv = {victim("poll_loop_victim"), "poll-wrapped-sleep"}});
  std::string why;
  BOOST_TEST(one_finding(r, "usleep", "loop_callback_sleeps", &why), why << "\n" << r.describe());
}

BOOST_AUTO_TEST_CASE(what_loopsan_knows_about_a_descriptor_follows_its_number) {
  check_reuse({
      // Non-blocking, then blocking: the second call is reported.
      {"socket-nonblocking-to-blocking", "recv", "reuse_recv_blocking"},
      {"dup2-nonblocking-to-blocking", "recv", "reuse_recv_blocking"},
      {"dup3-nonblocking-to-blocking", "recv", "reuse_recv_blocking"},
      {"fcntl-clear", "recv", "reuse_recv_blocking"},
      {"fcntl64-clear", "recv", "reuse_recv_blocking"},
      {"ioctl-clear", "recv", "reuse_recv_blocking"},
      {"pipe-nonblocking-to-blocking", "read", "reuse_read_blocking"},
      {"shared-description-clear", "recv", "reuse_recv_blocking"},
      // Blocking (reported), then non-blocking: only the first call is reported.
      {"socket-blocking-to-nonblocking", "recv", "prime_recv_blocking"},
      {"dup2-blocking-to-nonblocking", "recv", "prime_recv_blocking"},
      {"dup3-blocking-to-nonblocking", "recv", "prime_recv_blocking"},
      {"fcntl-set", "recv", "prime_recv_blocking"},
      {"fcntl64-set", "recv", "prime_recv_blocking"},
      {"ioctl-set", "recv", "prime_recv_blocking"},
  });
}

// fclose() of an fdopen() stream closes the number inside libc, where no close() wrapper sees
// it (the fclose wrapper forgets it first); the number is then reused by a socket of the other
// kind.
BOOST_AUTO_TEST_CASE(a_descriptor_closed_inside_libc_is_forgotten_too) {
  check_reuse({
      {"fclose-nonblocking-to-blocking", "recv", "reuse_recv_blocking"},
      {"fclose-blocking-to-nonblocking", "recv", "prime_recv_blocking"},
  });
}

BOOST_AUTO_TEST_SUITE_END()
