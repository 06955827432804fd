#include "agent/report/finding.h"

namespace loopsan {
namespace {

struct KindInfo {
  const char* name;
  bool implemented;
};

constexpr KindInfo kKinds[] = {
#define LOOPSAN_FINDING(enumerator, name, implemented, meaning, fields) {name, implemented != 0},
#include "agent/report/findings.def"
#undef LOOPSAN_FINDING
};
static_assert(sizeof kKinds / sizeof kKinds[0] == static_cast<size_t>(Kind::kCount));

}  // namespace

const char* kind_name(Kind kind) {
  int k = static_cast<int>(kind);
  if (k < 0 || k >= static_cast<int>(Kind::kCount)) return "unknown";
  return kKinds[k].name;
}

bool kind_implemented(Kind kind) {
  int k = static_cast<int>(kind);
  return k >= 0 && k < static_cast<int>(Kind::kCount) && kKinds[k].implemented;
}

Kind kind_from_name(const std::string& name) {
  for (int k = 0; k < static_cast<int>(Kind::kCount); ++k) {
    if (name == kKinds[k].name) return static_cast<Kind>(k);
  }
  return Kind::kCount;
}

}  // namespace loopsan
