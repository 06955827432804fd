// One exception turned into a finding, the same way wherever it was lost or escaped: C++
// futures (future_tracker), the terminate handler (uncaught) and Python futures and tasks
// (python_hooks). What they share is the schema of DESIGN.md: the message starts with
// `Type ("what")`, the `exception` field comes first, then the kind's own fields, then
// `throw_stack`, `stack`, `throw_python_stack` and `python_stack` in that order.
#pragma once

#include <string>
#include <vector>

#include "agent/report/finding.h"
#include "agent/runtimes/python_bridge.h"
#include "agent/stacks/depot.h"

namespace loopsan {

class ExceptionFinding {
 public:
  // Fills kind, the calling thread, identity (the type) and the `exception` field.
  ExceptionFinding(Kind kind, const std::string& type, const std::string& what);

  const ThreadInfo& thread() const { return finding_.thread; }

  // The message: `Type ("what")` (`Type` when what is empty) followed by `tail`.
  void message(const std::string& tail);
  // The kind's own fields, written after `exception` in call order.
  void field(std::string key, std::string json_value);

  // Where it was thrown (`throw_stack`, always written; 0 when unknown) and, for an exception
  // raised in Python, the traceback of the raise (`throw_python_stack`).
  void thrown_at(StackId native) { throw_stack_ = native; }
  void thrown_in_python(std::vector<python::PyFrame> frames);

  // Where it was dropped (`stack`, written once this is called, even with 0) and the
  // calling thread's Python stack (`python_stack`).
  void dropped_at(StackId native);
  void python_stack(std::vector<python::PyFrame> frames);

  // Hands the finding to the reporter (false when it was a repeat or suppressed).
  bool submit();

 private:
  Finding finding_;
  StackId throw_stack_ = 0;
  bool has_dropped_ = false;
  StackId dropped_ = 0;
  bool has_throw_python_ = false;
  std::vector<python::PyFrame> throw_python_;
  bool has_python_ = false;
  std::vector<python::PyFrame> python_;
};

}  // namespace loopsan
