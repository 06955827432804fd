#include "agent/detectors/exception_finding.h"

#include <utility>

#include "agent/base/json.h"
#include "agent/base/text.h"
#include "agent/core/thread_registry.h"
#include "agent/report/reporter.h"

namespace loopsan {

ExceptionFinding::ExceptionFinding(Kind kind, const std::string& type, const std::string& what) {
  finding_.kind = kind;
  finding_.thread = registry::current_thread_info();
  finding_.identity = type;
  finding_.message = what.empty() ? type : cat(type, " (\"", what, "\")");
  JsonWriter ex;
  ex.begin_object().field("type", type).field("what", what).end_object();
  finding_.add_field("exception", ex.take());
}

void ExceptionFinding::message(const std::string& tail) {
  finding_.message += tail;
}

void ExceptionFinding::field(std::string key, std::string json_value) {
  finding_.add_field(std::move(key), std::move(json_value));
}

void ExceptionFinding::thrown_in_python(std::vector<python::PyFrame> frames) {
  has_throw_python_ = true;
  throw_python_ = std::move(frames);
}

void ExceptionFinding::dropped_at(StackId native) {
  has_dropped_ = true;
  dropped_ = native;
}

void ExceptionFinding::python_stack(std::vector<python::PyFrame> frames) {
  has_python_ = true;
  python_ = std::move(frames);
}

bool ExceptionFinding::submit() {
  Finding& f = finding_;
  f.stacks.emplace_back("throw_stack", throw_stack_);
  if (has_dropped_) f.stacks.emplace_back("stack", dropped_);
  bool python_throw_known = has_throw_python_ && !throw_python_.empty();
  if (has_throw_python_)
    f.python_stacks.emplace_back("throw_python_stack", std::move(throw_python_));
  if (has_python_) f.python_stacks.emplace_back("python_stack", std::move(python_));
  // A lost exception is the same bug wherever the last reference happened to go (the garbage
  // collector decides that): it is identified by where it was thrown, when that is known. An
  // uncaught exception keeps all its stacks: its Python stack is where it escaped, no accident.
  if (f.kind == Kind::kUnretrievedException) {
    if (throw_stack_ != 0) {
      f.identity_stacks = {"throw_stack"};
    } else if (python_throw_known) {
      f.identity_stacks = {"throw_python_stack"};
    }
  }
  return reporter::submit(f);
}

}  // namespace loopsan
