#include "agent/detectors/loop_stall.h"

#include <dlfcn.h>
#include <sys/syscall.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "agent/base/json.h"
#include "agent/base/lock.h"
#include "agent/base/options.h"
#include "agent/base/sys.h"
#include "agent/base/text.h"
#include "agent/core/loop_tracker.h"
#include "agent/core/process_info.h"
#include "agent/core/thread_registry.h"
#include "agent/core/watchdog.h"
#include "agent/detectors/blocking.h"
#include "agent/detectors/waits.h"
#include "agent/events.h"
#include "agent/report/episodes.h"
#include "agent/report/finding_table.h"
#include "agent/report/reporter.h"
#include "agent/runtimes/cpython_api.h"
#include "agent/runtimes/node_bridge.h"
#include "agent/runtimes/python_bridge.h"
#include "agent/stacks/depot.h"
#include "agent/stacks/parked_stack.h"
#include "agent/stacks/sampler.h"
#include "agent/stacks/stack.h"

namespace loopsan::loop_stall {
namespace {

constexpr int kMaxWatched = 256;
// Places a single episode is reported in, at most (a stall sampled at 1x, 2x, 4x, ... the
// threshold takes a few dozen looks even over days).
constexpr size_t kMaxSites = 16;

// The threads watched: loop threads, each added by itself at its first return from its loop's
// own wait and removed by itself when it ends (under `lock`, which the watchdog holds while it
// reads a thread's state: the state is valid while its slot names it).
struct Watched {
  ThreadState* state = nullptr;  // null: a free slot
  pid_t tid = 0;
  uint32_t generation = 0;  // bumped whenever the slot changes hands
  // The reported stall going on (report/episodes.h handle, -1: none), ended by whichever comes
  // first: the thread's return to its wait (exact), its exit, or the watchdog seeing either.
  std::atomic<int> handle{-1};
  std::atomic<int64_t> returned_ns{0};  // when the stalled thread returned to its wait
};
Lock lock;
Watched watched[kMaxWatched];

// One place a stall was seen in: a sampled stack, or a call the thread was parked in.
struct Site {
  StackId site = 0;   // the stack by function (identity); 0 when there is none
  StackId stack = 0;  // the last sample's exact stack
  std::vector<python::PyFrame> python;
  std::vector<node::JsFrame> js;
  std::string waiting_in;   // a parked thread's call
  std::string unavailable;  // why a computing thread has no stack
  int count = 0;
  // A Python loop waiting for the GIL: the thread that holds it, and where it is.
  pid_t holder = 0;
  StackId holder_stack = 0;
  std::vector<python::PyFrame> holder_python;
  std::string holder_unavailable;
};

struct Episode {
  int64_t start_ns = 0;       // when the thread left its wait (to within a tick)
  int64_t interval_ns = 0;    // the next look is at start_ns + interval_ns (which doubles)
  int64_t cpu_start_ns = -1;  // the thread's CPU clock then (-1: unknown)
  bool reported = false;      // a finding was written (or counted) for it
  int64_t gil_switches = -1;  // the GIL's hand-overs at the start or last look (CPython)
  std::vector<Site> sites;
};

// The watchdog's own view of each slot; only the watchdog thread touches it.
struct Tracking {
  uint32_t generation = 0;
  bool seen = false;
  uint32_t returns = 0;      // loop_wait_returns at the last look
  int64_t out_since_ns = 0;  // 0: in its wait (or no loop)
  int64_t last_tick_ns = 0;
  int64_t last_cpu_ns = -1;
  int64_t cpu_out_ns = -1;  // CPU clock when first seen out of its wait
  bool over = false;        // its loop ended without waiting again: ignored until it does
  Episode* episode = nullptr;
};
Tracking tracking[kMaxWatched];

// Ticks in a row that saw every watched loop in its wait, with no return from it in between.
// The watchdog goes idle after kQuietTicks of them (a threshold's worth): a loop that iterates
// all the time keeps it ticking (a bounded cost, four ticks per threshold) rather than waking
// it at every iteration.
constexpr int kQuietTicks = 4;
int quiet_ticks = 0;

// The rate limit on new findings (stall_reports_per_minute).
int64_t minute_start_ns = 0;
int reports_this_minute = 0;

template <typename T>
T peek(const T& field) {
  return __atomic_load_n(&field, __ATOMIC_RELAXED);
}

int64_t threshold_ns() {
  return int64_t{options().stall_threshold_ms} * 1000000;
}

// Where a parked thread is, from the kernel (parked_stack.h): the system call's name,
// "running", or "blocked" outside a system call (a page fault); empty when it is gone. Sets
// `sp` when known.
std::string kernel_wait(pid_t tid, uintptr_t* sp) {
  parked::Syscall call = parked::read_syscall(tid);
  if (call.state == parked::Syscall::State::kGone) return {};
  if (call.state == parked::Syscall::State::kParked) *sp = call.sp;
  if (call.state == parked::Syscall::State::kParked && call.nr < 0) return "blocked";
  return parked::waiting_in(call);
}

// libc, libm, libstdc++, libgcc, the loader and the vDSO: code a hot loop calls into, not the
// loop itself.
bool in_system_library(uintptr_t ip) {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(ip), &info) == 0 || info.dli_fname == nullptr) return false;
  const char* slash = strrchr(info.dli_fname, '/');
  const char* name = slash != nullptr ? slash + 1 : info.dli_fname;
  for (const char* prefix : {"libc.so", "libm.so", "libstdc++.so", "libgcc_s.so", "ld-linux",
                             "linux-vdso", "libpthread.so"}) {
    if (strncmp(name, prefix, strlen(prefix)) == 0) return true;
  }
  return false;
}

// The identity of a sampled stack: where the stall is, not the instruction the sample hit.
// Each frame as the start of its function (from the unwind tables), frames outside any known
// function (JIT code) left out, and the innermost frames inside the system libraries too (a
// loop that spins over clock_gettime is the loop's function). The exact stack is written as
// taken.
StackId site_of(const uintptr_t* ips, int n) {
  uintptr_t starts[kMaxStackDepth];
  int size = 0;
  int first = 0;
  while (first < n - 1 && in_system_library(first == 0 ? ips[0] : ips[first] - 1)) ++first;
  for (int i = first; i < n; ++i) {
    unw_proc_info_t info{};
    // ips[0] is the interrupted instruction; the others are return addresses (after the call).
    unw_word_t at = i == 0 ? ips[i] : ips[i] - 1;
    if (unw_get_proc_info_by_ip(unw_local_addr_space, at, &info, nullptr) != 0) continue;
    starts[size++] = info.start_ip + 1;  // inside the function, for a symbolizer that takes ip-1
  }
  return depot::intern(starts, size);
}

// Python frames by function and file, innermost first (no lines: see report()).
std::string python_key(const std::vector<python::PyFrame>& frames) {
  std::string key;
  for (const auto& f : frames) append(key, f.file, ":", f.function, "\n");
  return key;
}

// JavaScript frames by function and script, likewise.
std::string js_key(const std::vector<node::JsFrame>& frames) {
  std::string key;
  for (const auto& f : frames) append(key, f.script, ":", f.function, "\n");
  return key;
}

bool python_ready() {
  if (!options().python_stacks || !python::present()) return false;
  const cpython::Api& a = cpython::api;
  return a.is_initialized() && !a.is_finalizing();
}

std::string samples_json(const Episode& e) {
  std::string out = "[";
  for (size_t i = 0; i < e.sites.size(); ++i) {
    const Site& s = e.sites[i];
    if (i > 0) out += ",";
    out += cat("{\"count\":", s.count);
    if (s.stack != 0) out += cat(",\"stack\":", reporter::stack_json(s.stack));
    if (!s.python.empty()) out += cat(",\"python_stack\":", reporter::python_stack_json(s.python));
    if (!s.js.empty()) out += cat(",\"js_stack\":", reporter::js_stack_json(s.js));
    if (!s.waiting_in.empty()) out += cat(",\"waiting_in\":", json_quote(s.waiting_in));
    if (!s.unavailable.empty()) out += cat(",\"stack_unavailable\":", json_quote(s.unavailable));
    out += "}";
  }
  return out + "]";
}

// What the finding's message says the thread was doing.
std::string doing(const Site& s, bool computing) {
  if (s.holder != 0) {
    std::string where;
    if (!s.holder_python.empty()) {
      where = cat(" in ", s.holder_python[0].function, " (", s.holder_python[0].file, ":",
                  s.holder_python[0].line, ")");
    }
    return cat("waiting for the GIL, held by thread ", s.holder, " (", parked::task_name(s.holder),
               ")", where);
  }
  if (!s.waiting_in.empty()) return cat("parked in ", s.waiting_in);
  std::string where;
  if (!s.python.empty()) {
    where = cat(s.python[0].function, " (", s.python[0].file, ":", s.python[0].line, ")");
  } else if (!s.js.empty()) {
    where = cat(s.js[0].function.empty() ? "<anonymous>" : s.js[0].function, " (", s.js[0].script,
                ":", s.js[0].line, ":", s.js[0].column, ")");
  } else if (s.stack != 0) {
    // The innermost named frame outside the system libraries (the loop, not clock_gettime).
    for (const Frame& f : symbolize(s.stack)) {
      if (f.function.empty()) continue;
      if (where.empty()) where = f.function;
      if (!in_system_library(f.ip)) {
        where = f.function;
        break;
      }
    }
  }
  std::string what = computing ? "computing" : "running";
  if (!s.unavailable.empty()) return cat(what, " (", s.unavailable, ")");
  return where.empty() ? what : cat(what, " in ", where);
}

bool rate_limited(int64_t now) {
  int64_t cap = options().stall_reports_per_minute;
  if (cap == 0) return false;
  if (now - minute_start_ns >= int64_t{60} * 1000000000) {
    minute_start_ns = now;
    reports_this_minute = 0;
  }
  if (reports_this_minute >= cap) return true;
  ++reports_this_minute;
  return false;
}

// A look found the thread at `site` (its index in the episode): write a finding for it.
void report(Episode& e, size_t index, int slot, uint32_t generation, pid_t tid, int64_t now,
            int64_t cpu_ns) {
  const Site& s = e.sites[index];
  Finding f;
  f.kind = Kind::kLoopStall;
  if (!s.python.empty() || !s.js.empty()) {
    // A Python or JavaScript stall is the functions it stalled in: the interpreter's native
    // frames are the same for every line (V8's change as it compiles), and the line a spinning
    // loop is on changes from sample to sample.
    f.identity_stacks = {"none"};
    f.identity = python_key(s.python) + js_key(s.js);
  } else if (s.site != 0) {
    f.identity_stacks = {"site"};
    f.identity_only_stacks.emplace_back("site", s.site);
  } else {
    f.identity_stacks = {"none"};
    f.identity = s.waiting_in.empty() ? s.unavailable : cat("parked:", s.waiting_in);
    // Waiting for the GIL: what the holder runs is the bug.
    if (s.holder != 0) append(f.identity, "\n", python_key(s.holder_python));
  }
  f.python_stacks.emplace_back("python_stack", s.python);
  f.js_stacks.emplace_back("js_stack", s.js);
  uint64_t raw = reporter::raw_hash(f);
  bool first = !e.reported;
  if (!finding_table::count_if_known(raw)) {
    if (rate_limited(now)) {
      episodes::count_unreported(Kind::kLoopStall);
      return;
    }
    int64_t duration_ms = (now - e.start_ns) / 1000000;
    int64_t cpu_ms = cpu_ns >= 0 && e.cpu_start_ns >= 0 ? (cpu_ns - e.cpu_start_ns) / 1000000 : -1;
    // Computing: found running or runnable, not parked in a call. Its CPU clock says how much
    // of the stall it actually ran (less than all of it on a machine short of CPUs).
    bool computing = s.waiting_in.empty();
    f.thread = ThreadInfo{tid, parked::task_name(tid), ThreadRole::kLoop};
    f.message =
        cat("the event loop of thread ", tid, " (", f.thread.name,
            ") has not returned to its wait for ", duration_ms, " ms: ", doing(s, computing));
    f.add_field("duration_ms", cat(duration_ms));
    f.add_field("computing", computing ? "true" : "false");
    if (cpu_ms >= 0) f.add_field("cpu_ms", cat(cpu_ms));
    if (!s.waiting_in.empty()) f.add_field("waiting_in", json_quote(s.waiting_in));
    if (!s.unavailable.empty()) f.add_field("stack_unavailable", json_quote(s.unavailable));
    f.add_field("samples", samples_json(e));
    if (s.stack != 0) f.stacks.emplace_back("sampled_stack", s.stack);
    if (s.holder != 0) {
      JsonWriter w;
      w.begin_object()
          .field("tid", static_cast<int64_t>(s.holder))
          .field("name", parked::task_name(s.holder));
      if (!s.holder_unavailable.empty()) w.field("stack_unavailable", s.holder_unavailable);
      w.end_object();
      f.add_field("gil_holder", w.str());
      if (s.holder_stack != 0) f.stacks.emplace_back("gil_holder_stack", s.holder_stack);
      f.python_stacks.emplace_back("gil_holder_python_stack", s.holder_python);
    }
    reporter::submit(f);
  }
  if (!first) return;
  e.reported = true;
  int handle = episodes::begin(finding_table::id_of(raw), e.start_ns);
  if (handle < 0) return;
  LockGuard g(lock);
  Watched& w = watched[slot];
  if (w.generation == generation && w.state != nullptr && peek(w.state->stall_open) != 0) {
    w.handle.store(handle, std::memory_order_release);
  } else {
    // It returned (or ended) while the finding was being written.
    int64_t at = w.generation == generation ? w.returned_ns.load(std::memory_order_acquire) : 0;
    episodes::end(handle, at != 0 ? at : now);
  }
}

// The watchdog saw the stall in slot `slot` end (or its thread go).
void end_episode(int slot, Episode* e, int64_t now) {
  Watched& w = watched[slot];
  int handle = w.handle.exchange(-1, std::memory_order_acq_rel);
  if (handle >= 0) {
    int64_t at = w.returned_ns.load(std::memory_order_acquire);
    episodes::end(handle, at != 0 ? at : now);
  }
  delete e;
}

// The sampler, ready (its first use says in the start line what it could set up).
bool prepare_sampler() {
  static bool said = false;
  bool ok = sampler::prepare();
  if (!said) {
    said = true;
    process_info::set_hook("stall_sampler", ok);
    // The exact "inside the loader" test (else: only "running ld.so's code").
    process_info::set_hook("stall_sampler.loader_locks", sampler::loader_locks_known());
  }
  return ok;
}

struct Due {
  int index;
  uint32_t generation;
  pid_t tid;
  bool computing;
  bool python;
  int64_t cpu_ns;  // its CPU clock at the tick
};

// A Python loop whose stack could not be sampled (a host's alternate signal stack too small for
// the unwinder: faulthandler's, under pytest and regrtest; no free signal): its Python frames
// are still read, holding the GIL, which a computing thread hands over within a switch
// interval (5 ms) when asked.
void python_frames_holding_gil(const Due& d, Site& site) {
  unsigned long ident = 0;
  {
    LockGuard g(lock);
    if (watched[d.index].generation != d.generation) return;
    const ThreadRecord* r = watched[d.index].state->record;
    if (r != nullptr) ident = static_cast<unsigned long>(r->handle);
  }
  if (ident == 0) return;
  for (auto& [thread, frames] : python::all_thread_stacks()) {
    if (thread == ident) site.python = std::move(frames);
  }
}

// A thread that is not parked yet ran for less than a tenth of its stall (a CPU-bound thread
// gets more than that even with five runnable threads per CPU).
bool starved(const Episode& e, const Due& d, int64_t now) {
  if (d.cpu_ns < 0 || e.cpu_start_ns < 0 || now <= e.start_ns) return false;
  return (d.cpu_ns - e.cpu_start_ns) * 10 < now - e.start_ns;
}

// Tries at sampling a thread found in a system call, 1 ms apart.
constexpr int kAttempts = 4;

void pause_briefly() {
  timespec ts{0, 1000000};
  sys::call_with(SYS_nanosleep, &ts, nullptr);
}

// How long a stalled node thread gets to reach an interrupt check (a loop back-edge or a call
// in JavaScript: within microseconds while it runs JavaScript, never while it is in native code).
constexpr int64_t kJsWaitNs = 50 * 1000000;

// The thread of `d` is still in the stall the watchdog saw (no return to its wait since).
bool still_stalled(const Due& d) {
  LockGuard g(lock);
  const Watched& w = watched[d.index];
  return w.generation == d.generation && w.state != nullptr &&
         peek(w.state->loop_wait_returns) == tracking[d.index].returns &&
         peek(w.state->in_loop_wait) == 0 && peek(w.state->loop_flags) != 0;
}

enum class Parked { kStall, kIdle, kReported, kGil };

// The thread that holds the GIL a Python loop waits for, sampled like a stalled loop (it runs
// Python, so it is signalled only when the kernel says it is not in a system call).
void gil_holder_of(Site& site, pid_t waiter) {
  pid_t holder = python::gil_holder();
  if (holder == 0 || holder == waiter) return;
  site.holder = holder;
  // Never destroyed: exit() runs static destructors while the watchdog may still be sampling.
  static sampler::Result& sample = *new sampler::Result();
  sampler::Outcome outcome = prepare_sampler() ? sampler::send(holder, nullptr, python_ready())
                                               : sampler::Outcome::kNoSignal;
  if (outcome == sampler::Outcome::kOk) {
    sampler::finish(sample);
    outcome = sample.outcome;
  }
  if (outcome == sampler::Outcome::kOk) {
    site.holder_stack = depot::intern(sample.ips, sample.size);
    if (!sample.python_dump.empty()) site.holder_python = python::parse_dump(sample.python_dump);
  } else {
    uintptr_t sp = 0;
    site.holder_unavailable = outcome == sampler::Outcome::kNotRunning
                                  ? cat("parked in ", kernel_wait(holder, &sp))
                                  : sampler::describe(outcome);
  }
}

// What a wait in a wrapped call means for a stall.
Parked parked_kind(const std::string& call, const void* caller, bool allowed) {
  if (allowed) return Parked::kReported;
  if (!blocking::reports(call.c_str(), caller)) return Parked::kGil;
  if (caller != nullptr) {
    uintptr_t at = reinterpret_cast<uintptr_t>(caller);
    std::vector<Frame> frames = symbolize(depot::intern(&at, 1));
    if (!frames.empty() && blocking::is_loop_idle_waiter(frames[0].function)) return Parked::kIdle;
  }
  return Parked::kReported;
}

// Takes one look at a stalled thread: samples it if it computes, else says where it is
// parked; writes a finding when that is a new place for this episode.
void look(const Due& d, int64_t now) {
  Tracking& k = tracking[d.index];
  Episode* e = k.episode;
  if (e == nullptr) return;
  // Large: one, on the watchdog only; never destroyed (exit() runs static destructors while
  // the watchdog may still be sampling).
  static sampler::Result& sample = *new sampler::Result();
  Site site;
  uintptr_t sp = 0;
  // Sampled when its CPU clock says it computes, or when the kernel says it is runnable (on a
  // busy machine a computing thread may get less than half a CPU); never in a system call.
  std::string kernel;
  bool computing = d.computing || (kernel = kernel_wait(d.tid, &sp)) == "running";
  if (computing && starved(*e, d, now)) {
    // Runnable, but it got under a tenth of a CPU over the stall: the machine is short of
    // CPUs, and where it was preempted says nothing about the code. Looked at again later.
    return;
  }
  if (computing) {
    bool python = d.python && python_ready();
    // node's main thread: its isolate lives as long as its loop (a worker's may be disposed
    // as soon as its loop ends), so it is the one asked for its JavaScript stack.
    bool js = d.tid == sys::getpid() && node::can_interrupt();
    sampler::Outcome outcome = sampler::Outcome::kNotRunning;
    // Outside the lock: the first call reaches the loader (dlsym, dl_iterate_phdr), and a loop
    // thread inside dlopen() may be about to take the lock as its wait returns.
    bool sampler_ready = prepare_sampler();
    // A thread that computes makes system calls too: found in one, it is tried again a few
    // times before it counts as parked.
    for (int attempt = 0; attempt < kAttempts && outcome == sampler::Outcome::kNotRunning;
         ++attempt) {
      if (attempt > 0) pause_briefly();
      LockGuard g(lock);
      if (watched[d.index].generation != d.generation) return;
      if (attempt > 0 && peek(watched[d.index].state->in_call) != 0) break;  // it is parked
      outcome = sampler_ready ? sampler::send(d.tid, watched[d.index].state, python,
                                              js ? node::current_isolate_signal_safe : nullptr)
                              : sampler::Outcome::kNoSignal;
    }
    if (outcome == sampler::Outcome::kOk) {
      sampler::finish(sample);
      outcome = sample.outcome;
      LockGuard g(lock);
      if (watched[d.index].generation == d.generation) sampler::release(watched[d.index].state);
    }
    if (outcome == sampler::Outcome::kOk) {
      sp = sample.sp;
      site.stack = depot::intern(sample.ips, sample.size);
      site.site = site_of(sample.ips, sample.size);
      if (!sample.python_dump.empty()) site.python = python::parse_dump(sample.python_dump);
      if (js && sample.isolate != nullptr && still_stalled(d)) {
        site.js = node::interrupt_for_stack(sample.isolate, kJsWaitNs);
      }
    } else if (outcome == sampler::Outcome::kNotRunning) {
      computing = false;  // it parked in the meantime
    } else if (outcome == sampler::Outcome::kInLoopsan) {
      // loopsan is at work on that thread: reporting what it just did (a blocking call that
      // ended), which is that finding's business. Nothing to say about the stall here.
      return;
    } else if (outcome == sampler::Outcome::kTimeout) {
      // It did not run for the whole wait: short of CPUs (see starved()). Looked at again later.
      return;
    } else if (e->reported && outcome != sampler::Outcome::kBlocked) {
      // No stack this time (a timeout on a loaded machine, the loader, an exception in
      // flight): nothing new to say about a stall already reported.
      return;
    } else {
      site.unavailable = sampler::describe(outcome);
      if (python && outcome != sampler::Outcome::kBlocked) python_frames_holding_gil(d, site);
    }
  }
  if (!computing) {
    std::string call;
    const void* caller = nullptr;
    bool allowed = false;
    {
      LockGuard g(lock);
      if (watched[d.index].generation != d.generation) return;
      const ThreadState& t = *watched[d.index].state;
      // loopsan at work on that thread (writing the finding of a blocking call that just
      // ended): that finding's business, as with a sample that lands inside loopsan.
      if (peek(t.guard) != 0) return;
      if (peek(t.in_call) != 0) {
        if (const char* name = peek(t.call_name)) call = name;
        caller = peek(t.call_caller);
        allowed = peek(t.allow_blocking_depth) != 0;
      }
    }
    if (!call.empty()) {
      switch (parked_kind(call, caller, allowed)) {
        case Parked::kIdle: {
          // The loop's own idle wait on a condition variable (asio's scheduler): not a stall.
          // Under the lock again: the thread may have ended while the call was named.
          LockGuard g(lock);
          if (watched[d.index].generation != d.generation) return;
          k.over = true;
          k.episode = nullptr;
          __atomic_store_n(&watched[d.index].state->stall_open, uint8_t{0}, __ATOMIC_RELAXED);
          end_episode(d.index, e, now);
          return;
        }
        case Parked::kReported:
          // A blocking call: the blocking detector reports it, with its stack, when it returns
          // (and the user allowed it in an allow_blocking scope). One bug, one finding. Should
          // it never return, the waits check makes it a hung-wait at hang_threshold_ms.
          {
            uintptr_t call_sp = 0;
            kernel_wait(d.tid, &call_sp);
            bool in_loop = false;
            {
              LockGuard g(lock);
              in_loop = watched[d.index].generation == d.generation &&
                        loop_tracker::runs_loop_at(*watched[d.index].state, call_sp);
            }
            if (in_loop) waits::loop_thread_blocked(d.tid, now);
          }
          return;
        case Parked::kGil: {
          // Stalled by one thread that kept the GIL since the last look, not by threads that
          // pass it around (each for a switch interval: contention, or a machine short of CPUs).
          int64_t switches = python::gil_switches();
          bool kept = switches >= 0 && switches == e->gil_switches;
          e->gil_switches = switches;
          if (!kept) return;
          gil_holder_of(site, d.tid);
          call = cat("the GIL (", call, ")");
          break;
        }
        case Parked::kStall:
          break;
      }
    }
    kernel = kernel_wait(d.tid, &sp);
    if (call.empty()) call = kernel == "running" ? "nothing (runnable, waiting for a CPU)" : kernel;
    site.waiting_in = call.empty() ? "an unknown wait" : call;
  }
  {
    LockGuard g(lock);
    if (watched[d.index].generation != d.generation) return;
    const ThreadState& t = *watched[d.index].state;
    // It returned to its wait meanwhile: the look may be of what came after.
    if (peek(t.loop_wait_returns) != k.returns || peek(t.in_loop_wait) != 0) return;
    if (!loop_tracker::runs_loop_at(t, sp)) {
      // Its loop is over (the function that ran it returned): not a stall, whatever it does now.
      k.over = true;
      k.episode = nullptr;
      __atomic_store_n(&watched[d.index].state->stall_open, uint8_t{0}, __ATOMIC_RELAXED);
      end_episode(d.index, e, now);
      return;
    }
  }
  for (size_t i = 0; i < e->sites.size(); ++i) {
    Site& seen = e->sites[i];
    // The same place: the same Python functions (whatever native frames ran them), else the
    // same native functions, else the same call or reason.
    bool same = seen.waiting_in == site.waiting_in && seen.unavailable == site.unavailable &&
                python_key(seen.python) == python_key(site.python) &&
                python_key(seen.holder_python) == python_key(site.holder_python) &&
                js_key(seen.js) == js_key(site.js) &&
                (!site.python.empty() || !site.js.empty() || seen.site == site.site);
    if (same) {
      ++seen.count;
      if (site.stack != 0) seen.stack = site.stack;
      return;
    }
  }
  if (e->sites.size() >= kMaxSites) return;
  site.count = 1;
  e->sites.push_back(std::move(site));
  report(*e, e->sites.size() - 1, d.index, d.generation, d.tid, now, d.cpu_ns);
}

// Every watched loop is in its wait: go idle, and have the next return from a loop wait wake
// the watchdog. The loop thread's side is a plain store and a load (events::PollingWait);
// membarrier() makes this side see that store, or that thread see the request.
bool go_idle() {
  events::g_loop_wait_end_wanted.store(true, std::memory_order_seq_cst);
  if (!watchdog::heavy_barrier()) return true;  // no membarrier: keep ticking instead
  LockGuard g(lock);
  for (int i = 0; i < kMaxWatched; ++i) {
    const Watched& w = watched[i];
    if (w.state == nullptr) continue;
    const Tracking& k = tracking[i];
    bool over =
        k.over && k.generation == w.generation && peek(w.state->loop_wait_returns) == k.returns;
    if (!over && peek(w.state->in_loop_wait) == 0 && peek(w.state->loop_flags) != 0) return true;
  }
  return false;
}

}  // namespace

int64_t period_ns() {
  int64_t p = threshold_ns() / 4;
  return p < 1000000 ? 1000000 : p;
}

bool tick(int64_t now) {
  int64_t threshold = threshold_ns();
  std::vector<Due> due;
  std::vector<std::pair<int, Episode*>> ended;
  bool any_out = false;
  bool any_return = false;
  {
    LockGuard g(lock);
    for (int i = 0; i < kMaxWatched; ++i) {
      Watched& w = watched[i];
      Tracking& k = tracking[i];
      if (k.generation != w.generation) {
        if (k.episode != nullptr) ended.emplace_back(i, k.episode);
        k = Tracking{};
        k.generation = w.generation;
      }
      if (w.state == nullptr) continue;
      const ThreadState& t = *w.state;
      uint32_t returns = peek(t.loop_wait_returns);
      bool in_wait = peek(t.in_loop_wait) != 0;
      bool loop = peek(t.loop_flags) != 0;
      if (!k.seen || in_wait || !loop || returns != k.returns) {
        if (returns != k.returns) any_return = true;
        // Progress (or no loop): whatever stalled before is over.
        if (k.episode != nullptr) ended.emplace_back(i, k.episode);
        __atomic_store_n(&w.state->stall_open, uint8_t{0}, __ATOMIC_RELAXED);
        k.episode = nullptr;
        k.seen = true;
        k.returns = returns;
        k.over = false;
        k.out_since_ns = in_wait || !loop ? 0 : now;
        k.last_cpu_ns = k.cpu_out_ns = -1;
        if (k.out_since_ns != 0) {
          any_out = true;
          k.last_cpu_ns = k.cpu_out_ns = sys::thread_cpu_ns(w.tid);
          k.last_tick_ns = now;
        }
        continue;
      }
      if (k.over) continue;
      any_out = true;
      if (k.out_since_ns == 0) {
        // Out of its wait since the last tick without a return from it (its loop started
        // running without waiting yet, or it left the wait as the tick looked): from now.
        k.out_since_ns = now;
        k.last_cpu_ns = k.cpu_out_ns = sys::thread_cpu_ns(w.tid);
        k.last_tick_ns = now;
        continue;
      }
      int64_t cpu = sys::thread_cpu_ns(w.tid);
      // Computing: its CPU clock advanced by at least half the time since the last tick.
      bool computing =
          cpu >= 0 && k.last_cpu_ns >= 0 && (cpu - k.last_cpu_ns) * 2 >= now - k.last_tick_ns;
      k.last_cpu_ns = cpu;
      k.last_tick_ns = now;
      if (k.episode == nullptr) {
        if (now - k.out_since_ns < threshold) continue;
        k.episode = new Episode();
        k.episode->start_ns = k.out_since_ns;
        k.episode->interval_ns = threshold;
        k.episode->cpu_start_ns = k.cpu_out_ns;
        if (peek(t.python_loop) != 0) k.episode->gil_switches = python::gil_switches();
        // Its return to the wait will say exactly when the stall ended.
        w.returned_ns.store(0, std::memory_order_relaxed);
        __atomic_store_n(&w.state->stall_open, uint8_t{1}, __ATOMIC_RELAXED);
      }
      Episode& e = *k.episode;
      if (now < e.start_ns + e.interval_ns) continue;
      while (e.start_ns + e.interval_ns <= now) e.interval_ns *= 2;
      due.push_back(Due{i, w.generation, w.tid, computing, peek(t.python_loop) != 0, cpu});
    }
  }
  for (auto [slot, e] : ended) end_episode(slot, e, now);
  for (const Due& d : due) look(d, now);
  quiet_ticks = any_out || any_return ? 0 : quiet_ticks + 1;
  if (quiet_ticks < kQuietTicks) return true;
  quiet_ticks = 0;
  return go_idle();
}

void loop_waited(int) {
  ThreadState& t = tls_state;
  if (__atomic_load_n(&t.stall_open, __ATOMIC_RELAXED) != 0) {
    // Back in its wait after a stall the watchdog saw: this is when it ended.
    __atomic_store_n(&t.stall_open, uint8_t{0}, __ATOMIC_RELAXED);
    int64_t now = sys::monotonic_ns();
    LockGuard g(lock);
    for (Watched& w : watched) {
      if (w.state != &t) continue;
      w.returned_ns.store(now, std::memory_order_release);
      int handle = w.handle.exchange(-1, std::memory_order_acq_rel);
      if (handle >= 0) episodes::end(handle, now);
    }
  }
  if (t.stall_watch == 0) {
    t.stall_watch = 2;
    if (options().stall_threshold_ms > 0 && t.record != nullptr &&
        !watchdog::on_watchdog_thread()) {
      LockGuard g(lock);
      for (Watched& w : watched) {
        if (w.state != nullptr) continue;
        w.state = &t;
        w.tid = current_tid();
        ++w.generation;
        t.stall_watch = 1;
        break;
      }
    }
    if (t.stall_watch == 1) watchdog::wake(watchdog::kLoopStall);
  }
  // The watchdog went idle and asked to hear of the next return.
  if (events::g_loop_wait_end_wanted.load(std::memory_order_relaxed) &&
      events::g_loop_wait_end_wanted.exchange(false, std::memory_order_acq_rel)) {
    watchdog::wake(watchdog::kLoopStall);
  }
}

void thread_exiting() {
  ThreadState& t = tls_state;
  if (t.stall_watch == 1) {
    int64_t now = sys::monotonic_ns();
    LockGuard g(lock);
    for (Watched& w : watched) {
      if (w.state != &t) continue;
      int handle = w.handle.exchange(-1, std::memory_order_acq_rel);
      if (handle >= 0) episodes::end(handle, now);
      w.state = nullptr;
      ++w.generation;
    }
  }
  t.stall_watch = 0;
  t.stall_open = 0;
}

void reset_after_fork() {
  // Only the forking thread exists here; it asks again at its next return from a loop wait.
  // The watchdog's view is dropped (leaked: it may have been in use at the fork).
  lock.reset_after_fork();
  for (int i = 0; i < kMaxWatched; ++i) {
    watched[i].state = nullptr;
    ++watched[i].generation;
    watched[i].handle.store(-1, std::memory_order_relaxed);
    tracking[i] = Tracking{};
  }
  tls_state.stall_watch = 0;
  tls_state.stall_open = 0;
  events::g_loop_wait_end_wanted.store(false, std::memory_order_relaxed);
  minute_start_ns = 0;
  reports_this_minute = 0;
  quiet_ticks = 0;
}

}  // namespace loopsan::loop_stall
