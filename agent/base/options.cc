#include "agent/base/options.h"

#include <cerrno>
#include <cstdlib>

#include "agent/base/text.h"
#include "agent/base/json.h"

namespace loopsan {
namespace {

enum class Kind { Bool, Int, String };

struct OptionInfo {
  const char* name;
  Kind kind;
  const char* default_text;
  int64_t min;
  int64_t max;
  const char* help;
};

#define LOOPSAN_OPTION(kind, name, def, min, max, help) {#name, Kind::kind, #def, min, max, help},
constexpr OptionInfo kOptions[] = {
#include "agent/base/options.def"
};
#undef LOOPSAN_OPTION

// Splits "a=1:b='x y',c=2 d" into key/value items. Separators are ':', ',' and whitespace
// outside quotes; a value may be wrapped in single or double quotes.
struct Item {
  std::string key;
  std::string value;
  bool has_value = false;
};

bool is_separator(char c) {
  return c == ':' || c == ',' || c == ' ' || c == '\t' || c == '\n';
}

std::vector<Item> split_items(std::string_view text, std::vector<std::string>& warnings) {
  std::vector<Item> items;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_separator(text[i])) ++i;
    if (i >= text.size()) break;
    Item item;
    while (i < text.size() && text[i] != '=' && !is_separator(text[i])) item.key += text[i++];
    if (i < text.size() && text[i] == '=') {
      ++i;
      item.has_value = true;
      if (i < text.size() && (text[i] == '\'' || text[i] == '"')) {
        char quote = text[i++];
        size_t close = text.find(quote, i);
        if (close == std::string_view::npos) {
          warnings.push_back(cat("unterminated quote in the value of '", item.key,
                                 "'; the rest of LOOPSAN_OPTIONS is ignored"));
          return items;
        }
        item.value = std::string(text.substr(i, close - i));
        i = close + 1;
      } else {
        while (i < text.size() && !is_separator(text[i])) item.value += text[i++];
      }
    }
    items.push_back(std::move(item));
  }
  return items;
}

bool parse_bool(std::string_view v, bool& out) {
  if (v == "1" || v == "true" || v == "yes" || v == "on") return out = true, true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return out = false, true;
  return false;
}

bool parse_int(const std::string& v, int64_t min, int64_t max, int64_t& out) {
  if (v.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long parsed = strtoll(v.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || parsed < min || parsed > max) return false;
  out = parsed;
  return true;
}

std::string known_keys() {
  std::string keys;
  for (const auto& o : kOptions) append(keys, keys.empty() ? "" : ", ", o.name);
  return keys;
}

std::string expected_text(const OptionInfo& info) {
  switch (info.kind) {
    case Kind::Bool:
      return "0 or 1";
    case Kind::Int:
      return cat("an integer from ", info.min, " to ", info.max);
    case Kind::String:
      return "a string";
  }
  return "";
}

// Applies one item to the matching field; returns false if the value was rejected.
bool apply(Options& options, const OptionInfo& info, const std::string& value) {
#define LOOPSAN_OPTION(kind, field, def, lo, hi, text) \
  if (std::string_view(info.name) == #field) return set_##kind(options.field, value, info);
  auto set_Bool = [](bool& field, const std::string& v, const OptionInfo&) {
    return parse_bool(v, field);
  };
  auto set_Int = [](int64_t& field, const std::string& v, const OptionInfo& i) {
    return parse_int(v, i.min, i.max, field);
  };
  auto set_String = [](std::string& field, const std::string& v, const OptionInfo&) {
    field = v;
    return true;
  };
#include "agent/base/options.def"
#undef LOOPSAN_OPTION
  return false;
}

}  // namespace

void parse_options(std::string_view text, Options& options, std::vector<std::string>& warnings) {
  for (const Item& item : split_items(text, warnings)) {
    const OptionInfo* info = nullptr;
    for (const auto& o : kOptions) {
      if (item.key == o.name) info = &o;
    }
    if (info == nullptr) {
      warnings.push_back(
          cat("unknown option '", item.key, "' ignored (known: ", known_keys(), ")"));
      continue;
    }
    // A bare flag ("help") means 1 for a boolean.
    std::string value = item.has_value ? item.value : (info->kind == Kind::Bool ? "1" : "");
    if (!item.has_value && info->kind != Kind::Bool) {
      warnings.push_back(cat("option '", item.key, "' needs a value (", expected_text(*info),
                             "); keeping ", info->default_text));
      continue;
    }
    Options candidate = options;
    if (!apply(candidate, *info, value)) {
      warnings.push_back(cat("invalid value '", value, "' for option '", item.key, "' (expected ",
                             expected_text(*info), "); keeping the ", "previous value"));
      continue;
    }
    options = std::move(candidate);
  }
}

std::string options_help() {
  std::string out = "loopsan options (LOOPSAN_OPTIONS=\"key=value:key=value\"):\n";
  for (const auto& o : kOptions) {
    append(out, "  ", o.name, "=", o.default_text, "\n      ", o.help, " [", expected_text(o),
           "]\n");
  }
  return out;
}

std::string options_json(const Options& options) {
  JsonWriter w;
  w.begin_object();
#define LOOPSAN_OPTION(kind, name, def, min, max, help) w.field(#name, options.name);
#include "agent/base/options.def"
#undef LOOPSAN_OPTION
  w.end_object();
  return w.take();
}

namespace {
Options& global_options() {
  // Leaked on purpose: wrappers may still read options while the process exits.
  static Options* options = new Options();
  return *options;
}
}  // namespace

const Options& options() {
  return global_options();
}
Options& mutable_options() {
  return global_options();
}

}  // namespace loopsan
