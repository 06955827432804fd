#include "agent/detectors/hung_wait.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>
#include <unordered_map>

#include "agent/base/json.h"
#include "agent/base/options.h"
#include "agent/base/text.h"
#include "agent/detectors/deadlock.h"
#include "agent/report/episodes.h"
#include "agent/report/finding_table.h"
#include "agent/report/reporter.h"

namespace loopsan::hung_wait {
namespace {

struct Episode {
  int64_t since_ns = 0;
  int handle = -1;  // episodes.h, once reported
  // What the wait is, decided once per wait (its call and, in Python, its frames cannot change
  // while it lasts): the call a report names, empty when it is no wait for a result.
  bool judged = false;
  std::string call;
  bool producer_unknown = false;  // a Python wait: nothing says which thread it waits for
  bool freezes_loop = false;      // a loop thread in a blocking call, not in its loop's wait
};

// Waits at or past the threshold, by tid. Watchdog thread only; leaked in a fork() child.
std::unordered_map<pid_t, Episode>* open_waits = new std::unordered_map<pid_t, Episode>();

bool ends_with(const std::string& s, const char* tail) {
  size_t n = strlen(tail);
  return s.size() >= n && s.compare(s.size() - n, n, tail) == 0;
}

// The Python call a thread parked in an ownerless futex waits in, when it is a wait for a
// result (hung_wait.h's rule), else empty.
std::string python_result_wait(const waits::Waiter& w, const std::vector<python::PyFrame>& frames) {
  for (size_t i = 0; i < frames.size() && i < 4; ++i) {
    const python::PyFrame& f = frames[i];
    if (ends_with(f.file, "concurrent/futures/_base.py") &&
        (f.function == "result" || f.function == "exception" || f.function == "wait" ||
         f.function == "as_completed")) {
      return cat("concurrent.futures.Future.", f.function == "wait" ? "wait" : f.function);
    }
    if (ends_with(f.file, "/threading.py") &&
        (f.function == "join" || f.function == "_wait_for_tstate_lock")) {
      return "threading.Thread.join";
    }
  }
  if (w.thread.is_main && !frames.empty() && ends_with(frames[0].file, "/threading.py") &&
      (frames[0].function == "wait" || frames[0].function == "wait_for" ||
       frames[0].function == "acquire")) {
    return cat("threading.", frames[0].function);
  }
  return {};
}

// A thread that may still end a wait whose producer is unknown: running, or waiting for the
// outside world or for time (its loop's wait, a descriptor, a sleep, a futex wait with a
// timeout: Python's timed lock waits, threading.Timer).
bool may_progress(const waits::Waiter& t) {
  if (!t.parked || t.thread.in_loop_wait) return true;
  switch (t.target.kind) {
    case parked::WaitTarget::Kind::kDescriptor:
    case parked::WaitTarget::Kind::kPoll:
    case parked::WaitTarget::Kind::kSleep:
    case parked::WaitTarget::Kind::kSignal:
    case parked::WaitTarget::Kind::kChild:
      return true;
    case parked::WaitTarget::Kind::kFutex:
      return waits::timed(t);
    default:
      return false;
  }
}

// A thread at the end of a chain of waits that will not wake it by itself.
bool stuck(const waits::Waiter& end) {
  if (!end.parked) return false;  // computing or running: work in progress
  if (end.thread.in_loop_wait) return false;
  switch (end.target.kind) {
    case parked::WaitTarget::Kind::kDescriptor:
    case parked::WaitTarget::Kind::kPoll:
    case parked::WaitTarget::Kind::kSleep:
    case parked::WaitTarget::Kind::kSignal:
    case parked::WaitTarget::Kind::kChild:
      return false;  // the outside world (or time) wakes it
    default:
      return true;
  }
}

void report(const waits::View& view, const waits::Waiter& w, const std::string& call,
            const std::string& chain, const waits::PythonStacks& python, int64_t now) {
  Finding f;
  f.kind = Kind::kHungWait;
  f.thread.tid = w.thread.tid;
  f.thread.role = w.thread.role;
  f.thread.name = parked::task_name(w.thread.tid);
  if (f.thread.name.empty()) f.thread.name = w.thread.name;
  int64_t waited_ms = (now - w.since_ns) / 1000000;
  const std::vector<python::PyFrame>* frames = waits::python_stack_of(w, python);
  std::string where;
  if (frames != nullptr) {
    // The caller's line: the innermost frame outside the library's own waiting code.
    for (const python::PyFrame& p : *frames) {
      if (ends_with(p.file, "/threading.py") || ends_with(p.file, "concurrent/futures/_base.py")) {
        continue;
      }
      where = cat(" called from ", p.function, " (", p.file, ":", p.line, ")");
      break;
    }
  }
  f.message = cat("thread ", w.thread.tid, " (", f.thread.name, ") has waited ", waited_ms,
                  " ms in ", call, where, chain);
  f.add_field("call", json_quote(call));
  f.add_field("duration_ms", cat(waited_ms));
  for (const waits::Waiter& other : view) {
    StackId stack = 0;
    FindingThread t = waits::describe(other, now, python, &stack);
    if (&other == &w) {
      if (stack != 0) f.stacks.emplace_back("stack", stack);
      if (frames != nullptr) f.python_stacks.emplace_back("python_stack", *frames);
    }
    f.threads.push_back(std::move(t));
  }
  uint64_t raw = reporter::raw_hash(f);
  reporter::submit(f);
  (*open_waits)[w.thread.tid].handle = episodes::begin(finding_table::id_of(raw), w.since_ns);
}

}  // namespace

void check(const waits::View& view, int64_t now) {
  // Waits that ended (or threads that ran since): their episodes are over.
  for (auto it = open_waits->begin(); it != open_waits->end();) {
    const waits::Waiter* w = waits::find(view, it->first);
    if (w != nullptr && w->parked && w->since_ns == it->second.since_ns) {
      ++it;
      continue;
    }
    if (it->second.handle >= 0) episodes::end(it->second.handle, now);
    it = open_waits->erase(it);
  }
  int64_t threshold = int64_t{options().hang_threshold_ms} * 1000000;
  if (threshold <= 0) return;
  // Every thread's Python stack, read once per tick and only when needed (it takes the GIL).
  waits::PythonStacks python;
  bool python_read = false;
  auto read_python = [&] {
    if (python_read || !python::present()) return;
    python = python::all_thread_stacks();
    python_read = true;
  };
  for (const waits::Waiter& w : view) {
    if (!w.parked || now - w.since_ns < threshold) continue;
    auto known = open_waits->find(w.thread.tid);
    if (known != open_waits->end() && known->second.handle >= 0) continue;  // reported
    if (deadlock::in_reported_cycle(w.thread.tid)) continue;
    // A loop thread in a blocking call, once the stall detector has judged it stalled in that
    // call during this wait (not a finished loop's thread, nor a loop's idle wait on a condition
    // variable, asio's): whatever it waits for, its loop serves nothing meanwhile, and the
    // blocking-call finding comes only when the call returns, which it may never do.
    if (w.thread.blocking_call != nullptr && !w.thread.in_loop_wait &&
        waits::loop_thread_blocked_at(w.thread.tid) >= w.since_ns - 2 * waits::period_ns()) {
      Episode& e = (*open_waits)[w.thread.tid];
      e.since_ns = w.since_ns;
      e.judged = true;
      e.call = w.thread.blocking_call;
      e.freezes_loop = true;
      known = open_waits->find(w.thread.tid);
    }
    if (known != open_waits->end() && known->second.judged && known->second.call.empty()) {
      continue;  // no wait for a result: decided for this episode
    }
    if (known == open_waits->end() || !known->second.judged) {
      Episode e;
      e.since_ns = w.since_ns;
      e.judged = true;
      switch (w.target.kind) {
        case parked::WaitTarget::Kind::kMutex:
        case parked::WaitTarget::Kind::kJoin:
        case parked::WaitTarget::Kind::kFuture:
          e.call = waits::call_name(w);
          break;
        case parked::WaitTarget::Kind::kFutex:
        case parked::WaitTarget::Kind::kNone:
          if (!python::present()) break;
          read_python();
          if (python.empty()) {
            e.judged = false;  // no GIL this time: judged again at a later tick
            break;
          }
          if (const auto* frames = waits::python_stack_of(w, python)) {
            e.call = python_result_wait(w, *frames);
          }
          e.producer_unknown = true;
          break;
        default:
          break;
      }
      if (!e.judged) continue;
      known = open_waits->insert_or_assign(w.thread.tid, std::move(e)).first;
    }
    const Episode& episode = known->second;
    if (episode.call.empty()) continue;  // not a wait for a result: never a hang
    if (episode.freezes_loop) {
      read_python();
      std::string on;
      if (w.target.kind == parked::WaitTarget::Kind::kDescriptor) {
        on = cat(" on ", parked::descriptor_words(static_cast<int>(w.target.object)));
      }
      report(view, w, episode.call, cat(on, ", on its event loop's thread: the loop is frozen"),
             python, now);
      continue;
    }
    // Follow what it waits for to the end of the chain.
    const waits::Waiter* end = &w;
    std::string chain;
    bool decided = true;
    bool hang = true;
    std::vector<const waits::Waiter*> seen = {&w};
    for (int steps = 0; steps < 64; ++steps) {
      pid_t holder = deadlock::holder_of(*end);
      if (holder == 0) {
        // A mutex being handed over (owner not written yet): look again next tick.
        if (end->target.kind == parked::WaitTarget::Kind::kMutex &&
            end->target.owner != parked::kOwnerDied) {
          decided = false;
        }
        break;
      }
      const waits::Waiter* next = waits::find(view, holder);
      if (next == nullptr) {
        append(chain, ", held by thread ", holder, ", which has exited");
        end = nullptr;
        break;
      }
      if (next == &w) {  // a cycle: deadlock.h reports it
        decided = false;
        break;
      }
      if (std::find(seen.begin(), seen.end(), next) != seen.end()) {
        // Waiting on a cycle it is not part of (main joining a deadlocked thread): hung.
        append(chain, ", which is part of a deadlock");
        end = nullptr;
        break;
      }
      seen.push_back(next);
      append(chain, steps == 0 ? ", waiting for thread " : ", which waits for thread ", holder,
             " (", next->thread.name, ")",
             next->parked ? cat(" in ", waits::call_name(*next)) : std::string(" (running)"));
      end = next;
    }
    if (!decided) continue;
    if (end != nullptr) hang = stuck(*end);
    // A Python wait does not say which thread will end it (a joined thread, a future's worker):
    // a hang only while no thread of the process can (seed 001: the loop thread is gone).
    if (hang && episode.producer_unknown) {
      for (const waits::Waiter& other : view) {
        if (&other != &w && may_progress(other)) hang = false;
      }
    }
    if (!hang) continue;  // re-judged at the next tick: the chain may change
    read_python();
    report(view, w, episode.call, chain, python, now);
  }
}

void reset_after_fork() {
  open_waits = new std::unordered_map<pid_t, Episode>();
}

}  // namespace loopsan::hung_wait
