#include "agent/report/reporter.h"

#include <atomic>
#include <cinttypes>
#include <cstdio>

#include "agent/base/text.h"
#include "agent/report/finding_table.h"
#include "agent/report/guilty_frame.h"
#include "agent/report/test_attribution.h"
#include "agent/base/json.h"
#include "agent/base/log.h"
#include "agent/base/options.h"
#include "agent/core/process_info.h"
#include "agent/report/report_file.h"
#include "agent/report/suppressions.h"
#include "agent/stacks/depot.h"

namespace loopsan::reporter {
namespace {

// Frames that take part in a finding's identity: enough to tell call sites apart, few enough
// that a different depth of unrelated callers does not split one bug into many.
constexpr int kIdentityFrames = 16;

std::atomic<uint64_t> sequence{0};
std::atomic<LineSink> sink{nullptr};

uint64_t mix(uint64_t h, const std::string& s) {
  return fnv1a(s.data(), s.size() + 1, h);
}
uint64_t mix(uint64_t h, uint64_t v) {
  return fnv1a(&v, sizeof v, h);
}

uint64_t python_hash(uint64_t h, const std::vector<python::PyFrame>& frames) {
  for (size_t i = 0; i < frames.size() && i < kIdentityFrames; ++i) {
    h = mix(h, frames[i].file);
    h = mix(h, frames[i].function);
    h = mix(h, static_cast<uint64_t>(frames[i].line));
  }
  return h;
}

// An empty JavaScript stack adds nothing: findings outside node keep the ids they had.
uint64_t js_hash(uint64_t h, const Finding& f) {
  for (const auto& [name, frames] : f.js_stacks) {
    if (frames.empty() || !f.in_identity(name)) continue;
    h = mix(h, name);
    for (size_t i = 0; i < frames.size() && i < kIdentityFrames; ++i) {
      h = mix(h, frames[i].script);
      h = mix(h, frames[i].function);
      h = mix(h, static_cast<uint64_t>(frames[i].line));
      h = mix(h, static_cast<uint64_t>(frames[i].column));
    }
  }
  return h;
}

uint64_t raw_stacks_hash(const Finding& f) {
  uint64_t h = mix(0xcbf29ce484222325ull, static_cast<uint64_t>(f.kind));
  h = mix(h, f.identity);
  for (const auto* list : {&f.stacks, &f.identity_only_stacks}) {
    for (const auto& [name, id] : *list) {
      if (!f.in_identity(name)) continue;
      h = mix(h, name);
      depot::StackView stack = depot::get(id);
      for (int i = 0; i < stack.size && i < kIdentityFrames; ++i) h = mix(h, stack.ips[i]);
    }
  }
  for (const auto& [name, frames] : f.python_stacks) {
    if (f.in_identity(name) && !frames.empty()) h = python_hash(mix(h, name), frames);
  }
  return js_hash(h, f);
}

using Symbolized = suppressions::NativeStacks;

}  // namespace

namespace {

uint64_t stable_id(const Finding& f, const Symbolized& stacks) {
  uint64_t h = mix(0x6c6f6f7073616e31ull, std::string(kind_name(f.kind)));
  h = mix(h, f.identity);
  for (const auto& [name, frames] : stacks) {
    if (!f.in_identity(name)) continue;
    h = mix(h, name);
    for (size_t i = 0; i < frames.size() && i < kIdentityFrames; ++i) {
      h = mix(h, module_basename(frames[i].module));
      h = mix(h, static_cast<uint64_t>(frames[i].offset));
    }
  }
  for (const auto& [name, frames] : f.python_stacks) {
    if (f.in_identity(name)) h = python_hash(mix(h, name), frames);
  }
  return js_hash(h, f);
}

void write_frames(JsonWriter& w, const std::vector<Frame>& frames) {
  w.begin_array();
  for (const Frame& fr : frames) {
    w.begin_object();
    w.key("ip").hex(fr.ip);
    w.field("module", fr.module);
    w.key("offset").hex(fr.offset);
    if (!fr.build_id.empty()) w.field("build_id", fr.build_id);
    w.key("function");
    if (fr.function.empty()) {
      w.null();
    } else {
      w.value(fr.function);
    }
    w.end_object();
  }
  w.end_array();
}

void write_python_frames(JsonWriter& w, const std::vector<python::PyFrame>& frames) {
  w.begin_array();
  for (const auto& fr : frames) {
    w.begin_object().field("function", fr.function).field("file", fr.file);
    if (fr.line >= 0) w.field("line", static_cast<int64_t>(fr.line));
    if (fr.entry) w.field("entry", true);
    w.end_object();
  }
  w.end_array();
}

void write_js_frames(JsonWriter& w, const std::vector<node::JsFrame>& frames) {
  w.begin_array();
  for (const auto& fr : frames) {
    w.begin_object().field("function", fr.function).field("script", fr.script);
    if (fr.line >= 0) w.field("line", static_cast<int64_t>(fr.line));
    if (fr.column >= 0) w.field("column", static_cast<int64_t>(fr.column));
    w.end_object();
  }
  w.end_array();
}

void write_threads(JsonWriter& w, const std::vector<FindingThread>& threads) {
  w.key("threads").begin_array();
  for (const FindingThread& t : threads) {
    w.begin_object();
    w.field("tid", static_cast<int64_t>(t.thread.tid));
    w.field("name", t.thread.name);
    w.field("role", role_name(t.thread.role));
    for (const auto& [key, value] : t.fields) w.key(key).raw(value);
    for (const auto& [name, id] : t.stacks) {
      w.key(name);
      write_frames(w, symbolize(id));
    }
    for (const auto& [name, frames] : t.python_stacks) {
      w.key(name);
      write_python_frames(w, frames);
    }
    w.end_object();
  }
  w.end_array();
}

}  // namespace

uint64_t raw_hash(const Finding& finding) {
  return raw_stacks_hash(finding);
}

std::string stack_json(StackId stack) {
  JsonWriter w;
  write_frames(w, symbolize(stack));
  return w.str();
}

std::string python_stack_json(const std::vector<python::PyFrame>& frames) {
  JsonWriter w;
  write_python_frames(w, frames);
  return w.str();
}

std::string js_stack_json(const std::vector<node::JsFrame>& frames) {
  JsonWriter w;
  write_js_frames(w, frames);
  return w.str();
}

uint64_t fnv1a(const void* data, size_t len, uint64_t seed) {
  uint64_t h = seed;
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < len; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

bool submit(Finding& f) {
  int slot = -1;
  finding_table::Claim claim = finding_table::claim(raw_stacks_hash(f), f.kind, &slot);
  if (claim == finding_table::Claim::kRepeat) return false;

  Symbolized stacks;
  for (const auto& [name, id] : f.stacks) stacks.emplace_back(name, symbolize(id));
  Symbolized identity = stacks;
  for (const auto& [name, id] : f.identity_only_stacks) identity.emplace_back(name, symbolize(id));
  uint64_t id = stable_id(f, identity);
  bool suppressed = suppressions::suppressed(f, stacks);
  if (claim == finding_table::Claim::kNew) {
    if (!finding_table::publish(slot, id, suppressed)) {
      // Another raw stack of a finding reported already (or a suppressed one).
      test_attribution::finding_repeated(slot);
      return false;
    }
  } else if (suppressed) {
    return false;
  } else {
    slot = -1;
    finding_table::count_unslotted(f.kind);
  }
  test_attribution::OpenTest test = test_attribution::open_test();

  char id_text[17];
  snprintf(id_text, sizeof id_text, "%016" PRIx64, id);
  JsonWriter w;
  w.begin_object()
      .field("type", "finding")
      .field("kind", kind_name(f.kind))
      .field("id", id_text)
      .field("seq", sequence.fetch_add(1) + 1)
      .field("time_ms", process_info::elapsed_ms());
  w.key("thread").begin_object();
  w.field("tid", static_cast<int64_t>(f.thread.tid));
  w.field("name", f.thread.name);
  w.field("role", role_name(f.thread.role));
  w.end_object();
  w.field("message", f.message);
  if (test.generation != 0) w.field("test", test.name);
  for (const auto& [key, value] : f.fields) w.key(key).raw(value);
  for (const auto& [name, frames] : stacks) {
    w.key(name);
    write_frames(w, frames);
  }
  for (const auto& [name, frames] : f.python_stacks) {
    w.key(name);
    write_python_frames(w, frames);
  }
  for (const auto& [name, frames] : f.js_stacks) {
    if (frames.empty() && !node::present()) continue;
    w.key(name);
    write_js_frames(w, frames);
  }
  if (!f.threads.empty()) write_threads(w, f.threads);
  w.end_object();
  LineSink to = sink.load(std::memory_order_acquire);
  bool written = to != nullptr ? (to(w.str()), true) : report_file::append(w.str());
  std::string where = guilty_frame(f, stacks);
  std::string file = to != nullptr ? std::string() : report_file::path();
  test_attribution::finding_written(
      slot, test, f.kind, id,
      test_attribution::excerpt_block(f.kind, f.message, where, f.thread, file, id_text));
  if (to == nullptr && (options().log_to_stderr || !written)) {
    log_line(cat(kind_name(f.kind), ": ", f.message, " at ", where,
                 file.empty() ? "" : cat(" [", file, "]")));
  }
  return true;
}

bool write_record(const std::string& json) {
  if (LineSink to = sink.load(std::memory_order_acquire)) {
    to(json);
    return true;
  }
  return report_file::append(json);
}

void set_sink(LineSink to) {
  sink.store(to, std::memory_order_release);
}

uint64_t findings_count() {
  return finding_table::unique_findings();
}

void reset_after_fork() {
  sequence.store(0);
}

}  // namespace loopsan::reporter
