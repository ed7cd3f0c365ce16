#include "client/criusctl_flags.h"

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/absl_view.h"

namespace crius::client {
namespace {

std::string KeyOf(const FlagSpec& spec) {
  for (const std::string& name : spec.names) {
    if (absl::StartsWith(name, "--")) return name.substr(2);
  }
  absl::string_view first = spec.names.front();
  while (absl::StartsWith(first, "-")) first.remove_prefix(1);
  return std::string(first);
}

const FlagSpec* Find(const std::vector<FlagSpec>& specs,
                     absl::string_view name) {
  for (const FlagSpec& spec : specs) {
    for (const std::string& candidate : spec.names) {
      if (candidate == name) return &spec;
    }
  }
  return nullptr;
}

// Resolves "-name" as "--name" when no short flag is spelled that way.
const FlagSpec* FindFlexible(const std::vector<FlagSpec>& specs,
                             absl::string_view name) {
  if (const FlagSpec* spec = Find(specs, name)) return spec;
  if (!absl::StartsWith(name, "--") && name.size() > 2) {
    return Find(specs, absl::StrCat("-", name));
  }
  return nullptr;
}

bool IsFlag(absl::string_view arg) { return arg.size() > 1 && arg[0] == '-'; }

}  // namespace

std::string ParsedFlags::Get(std::string_view key,
                             std::string_view fallback) const {
  auto it = values_.find(key);
  if (it == values_.end() || it->second.empty()) return std::string(fallback);
  return it->second.back();
}

std::vector<std::string> ParsedFlags::GetAll(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return {};
  return it->second;
}

bool ParsedFlags::GetBool(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end() || it->second.empty()) return false;
  return it->second.back() != "false";
}

absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string>& args,
                                       size_t start,
                                       const std::vector<FlagSpec>& specs,
                                       bool stop_at_positional) {
  ParsedFlags parsed;
  bool flags_done = false;
  for (size_t i = start; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_done || !IsFlag(arg)) {
      parsed.positional_.push_back(arg);
      if (stop_at_positional) flags_done = true;
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    absl::string_view name = arg;
    std::optional<std::string> inline_value;
    if (size_t eq = name.find('='); eq != absl::string_view::npos) {
      inline_value = std::string(name.substr(eq + 1));
      name = name.substr(0, eq);
    }
    const FlagSpec* spec = FindFlexible(specs, name);
    if (spec == nullptr && !inline_value && !absl::StartsWith(name, "--")) {
      // "-aq": a group of short booleans.
      bool all_short_bools = true;
      for (char c : name.substr(1)) {
        const FlagSpec* s = Find(specs, std::string{'-', c});
        if (s == nullptr || s->takes_value) all_short_bools = false;
      }
      if (all_short_bools) {
        for (char c : name.substr(1)) {
          parsed.values_[KeyOf(*Find(specs, std::string{'-', c}))].push_back(
              "true");
        }
        continue;
      }
    }
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", name));
    }
    std::vector<std::string>& values = parsed.values_[KeyOf(*spec)];
    if (!spec->takes_value) {
      std::string value = inline_value.value_or("true");
      std::string lower = absl::AsciiStrToLower(value);
      if (lower != "true" && lower != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("flag ", name, " takes true or false, not ", value));
      }
      values.push_back(lower);
      continue;
    }
    if (inline_value) {
      values.push_back(*inline_value);
    } else if (i + 1 < args.size()) {
      values.push_back(args[++i]);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("flag ", name, " needs a value"));
    }
  }
  return parsed;
}

std::string FlagsHelp(const std::vector<FlagSpec>& specs) {
  std::string help;
  for (const FlagSpec& spec : specs) {
    std::string spelled = absl::StrJoin(spec.names, ", ");
    if (spec.takes_value) {
      absl::StrAppend(&spelled, " ",
                      spec.value_name.empty() ? "VALUE" : spec.value_name);
    }
    if (spelled.size() < 32) spelled.resize(32, ' ');
    absl::StrAppend(&help, "  ", spelled, "  ", spec.help, "\n");
  }
  return help;
}

absl::StatusOr<absl::Duration> ParseGoDuration(std::string_view text_view) {
  absl::string_view text = AbslView(text_view);
  int64_t seconds = 0;
  if (absl::SimpleAtoi(text, &seconds) && seconds >= 0) {
    return absl::Seconds(seconds);
  }
  absl::Duration duration;
  // absl's grammar is Go's (a sequence of decimal numbers with units from
  // ns to h) plus "inf", which no Go tool accepts.
  if (text == "inf" || text == "-inf" ||
      !absl::ParseDuration(text, &duration) ||
      duration < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid duration \"", text, "\" (use e.g. 10s, 2m, 1h30m)"));
  }
  return duration;
}

absl::StatusOr<int64_t> ParseInt(std::string_view flag_view,
                                 std::string_view text_view) {
  absl::string_view flag = AbslView(flag_view);
  absl::string_view text = AbslView(text_view);
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "flag ", flag, " takes a non-negative integer, not \"", text, "\""));
  }
  return value;
}

}  // namespace crius::client
