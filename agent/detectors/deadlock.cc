#include "agent/detectors/deadlock.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <vector>

#include "agent/base/json.h"
#include "agent/base/text.h"
#include "agent/report/finding.h"
#include "agent/report/reporter.h"

namespace loopsan::deadlock {
namespace {

// Cycles reported, as their sorted tids; dropped when one of their threads stops waiting.
// Watchdog thread only.
// Leaked in a fork() child (the watchdog may have been using it at the fork).
std::vector<std::vector<pid_t>>* cycles = new std::vector<std::vector<pid_t>>();

std::string address(uintptr_t a) {
  char buf[32];
  snprintf(buf, sizeof buf, "0x%lx", static_cast<unsigned long>(a));
  return buf;
}

void report(const waits::View& view, const std::vector<const waits::Waiter*>& cycle, int64_t now) {
  waits::PythonStacks python = python::all_thread_stacks();
  Finding f;
  f.kind = Kind::kDeadlock;
  const waits::Waiter& first = *cycle[0];
  f.thread.tid = first.thread.tid;
  f.thread.role = first.thread.role;
  f.thread.name = parked::task_name(first.thread.tid);
  if (f.thread.name.empty()) f.thread.name = first.thread.name;
  std::string cycle_json = "[";
  std::string words;
  for (size_t i = 0; i < cycle.size(); ++i) {
    const waits::Waiter& w = *cycle[i];
    pid_t holder = holder_of(w);
    const char* what =
        w.target.kind == parked::WaitTarget::Kind::kJoin ? "to join" : "for a mutex held by";
    if (i > 0) cycle_json += ",";
    cycle_json +=
        cat("{\"tid\":", w.thread.tid, ",\"waiting_in\":", json_quote(waits::call_name(w)),
            ",\"holder_tid\":", holder, ",\"object\":", json_quote(address(w.target.object)), "}");
    append(words, i == 0 ? "thread " : ", which waits in ",
           i == 0 ? cat(w.thread.tid, " waits in ") : "", waits::call_name(w), " ", what,
           " thread ", holder);
    StackId stack = 0;
    FindingThread t = waits::describe(w, now, python, &stack);
    if (i == 0) {
      if (stack != 0) f.stacks.emplace_back("stack", stack);
      if (const auto* frames = waits::python_stack_of(w, python)) {
        f.python_stacks.emplace_back("python_stack", *frames);
      }
    } else if (stack != 0) {
      // Every thread's blocking place makes the cycle what it is.
      f.identity_only_stacks.emplace_back(cat("stack", i), stack);
    }
    f.threads.push_back(std::move(t));
  }
  cycle_json += "]";
  (void)view;
  f.message = cat(cycle.size(), " threads wait for each other: ", words);
  f.add_field("cycle", cycle_json);
  reporter::submit(f);
}

}  // namespace

pid_t holder_of(const waits::Waiter& w) {
  // A wait with a timeout ends by itself: no edge of a deadlock or a hang.
  if (!w.parked || waits::timed(w)) return 0;
  switch (w.target.kind) {
    case parked::WaitTarget::Kind::kMutex:
      return w.target.owner == parked::kOwnerDied ? 0 : w.target.owner;
    case parked::WaitTarget::Kind::kJoin:
      return w.target.owner;
    default:
      return 0;
  }
}

void reset_after_fork() {
  cycles = new std::vector<std::vector<pid_t>>();
}

bool in_reported_cycle(pid_t tid) {
  for (const auto& c : (*cycles)) {
    if (std::find(c.begin(), c.end(), tid) != c.end()) return true;
  }
  return false;
}

void check(const waits::View& view, int64_t now) {
  // Forget cycles one of whose threads no longer waits for the next one.
  cycles->erase(std::remove_if(cycles->begin(), cycles->end(),
                               [&](const std::vector<pid_t>& c) {
                                 for (pid_t tid : c) {
                                   const waits::Waiter* w = waits::find(view, tid);
                                   if (w == nullptr || holder_of(*w) == 0) return true;
                                 }
                                 return false;
                               }),
                cycles->end());
  std::set<pid_t> done;
  for (const waits::Waiter& start : view) {
    if (done.count(start.thread.tid) != 0 || holder_of(start) == 0) continue;
    // Follow the edges from `start` until they end, leave the view, or come back.
    std::vector<const waits::Waiter*> path;
    const waits::Waiter* w = &start;
    while (w != nullptr && holder_of(*w) != 0 && done.count(w->thread.tid) == 0) {
      auto again = std::find(path.begin(), path.end(), w);
      if (again != path.end()) {
        std::vector<const waits::Waiter*> cycle(again, path.end());
        // From its lowest tid, so the same cycle reads the same whoever closed it.
        std::rotate(
            cycle.begin(),
            std::min_element(cycle.begin(), cycle.end(),
                             [](auto* a, auto* b) { return a->thread.tid < b->thread.tid; }),
            cycle.end());
        std::vector<pid_t> key;
        for (auto* c : cycle) key.push_back(c->thread.tid);
        std::sort(key.begin(), key.end());
        if (std::find(cycles->begin(), cycles->end(), key) == cycles->end()) {
          cycles->push_back(key);
          report(view, cycle, now);
        }
        break;
      }
      path.push_back(w);
      w = waits::find(view, holder_of(*w));
    }
    for (auto* p : path) done.insert(p->thread.tid);
  }
}

}  // namespace loopsan::deadlock
