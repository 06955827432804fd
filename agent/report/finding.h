// What a detector hands to the reporter: one finding, before deduplication and formatting.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "agent/runtimes/node_bridge.h"
#include "agent/runtimes/python_bridge.h"
#include "agent/stacks/stack.h"
#include "agent/core/thread_registry.h"

namespace loopsan {

// The kinds of DESIGN.md's schema 1, from findings.def. The order is the index used by the
// lock-free counters.
enum class Kind : int {
#define LOOPSAN_FINDING(enumerator, name, implemented, meaning, fields) k##enumerator,
#include "agent/report/findings.def"
#undef LOOPSAN_FINDING
  kCount
};
const char* kind_name(Kind kind);
// False for kinds that no detector emits yet.
bool kind_implemented(Kind kind);
// Kind::kCount when `name` is no kind.
Kind kind_from_name(const std::string& name);

// One of the threads a finding describes (its "threads" field: thread-leak, hung-wait,
// deadlock), with stacks of its own. These stacks are symbolized with the finding's but take
// no part in its identity or in suppressions: a finding about other threads is identified and
// suppressed by its own top-level stacks (where a leaked thread was created, ...).
struct FindingThread {
  ThreadInfo thread;
  // Serialized JSON values, written after tid, name and role, in order.
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<std::pair<std::string, StackId>> stacks;
  std::vector<std::pair<std::string, std::vector<python::PyFrame>>> python_stacks;

  void add_field(std::string key, std::string json_value) {
    fields.emplace_back(std::move(key), std::move(json_value));
  }
};

struct Finding {
  Kind kind = Kind::kBlockingCall;
  std::string message;
  ThreadInfo thread;
  // Kind-specific fields, already serialized as JSON values, in output order.
  std::vector<std::pair<std::string, std::string>> fields;
  // Native stacks (depot ids, 0 = none) by field name ("stack", "throw_stack", ...): symbolized
  // only when the finding turns out to be new.
  std::vector<std::pair<std::string, StackId>> stacks;
  // Python stacks by field name ("python_stack", ...).
  std::vector<std::pair<std::string, std::vector<python::PyFrame>>> python_stacks;
  // JavaScript stacks by field name ("js_stack", ...), inside node. An empty one is written
  // only when the process is node (node::present()).
  std::vector<std::pair<std::string, std::vector<node::JsFrame>>> js_stacks;
  // Native stacks that make up the finding's id without being written (same naming as
  // `stacks`; listed in identity_stacks like them): a sampled stack's identity is where it
  // stalled, function by function, not the exact instruction the sample hit.
  std::vector<std::pair<std::string, StackId>> identity_only_stacks;
  // The "threads" field, written last; absent when empty.
  std::vector<FindingThread> threads;
  // Extra text that distinguishes findings with the same stacks (e.g. the blocking call).
  std::string identity;
  // The stacks (native, Python or JavaScript, by field name) that make up the finding's id;
  // all of them when empty. A lost exception is identified by where it was thrown, not by
  // where the garbage collector happened to drop it.
  std::vector<std::string> identity_stacks;

  bool in_identity(const std::string& stack_name) const {
    if (identity_stacks.empty()) return true;
    for (const auto& s : identity_stacks) {
      if (s == stack_name) return true;
    }
    return false;
  }

  void add_field(std::string key, std::string json_value) {
    fields.emplace_back(std::move(key), std::move(json_value));
  }
};

}  // namespace loopsan
