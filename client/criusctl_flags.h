#pragma once

// Command-line flag parsing for criusctl, following the conventions crictl
// users type from habit (urfave/cli): "--name value", "--name=value",
// single-dash long names ("-name"), grouped short booleans ("-aq"),
// repeatable flags, and "--" to end the flags.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crius::client {

struct FlagSpec {
  // Every spelling, e.g. {"-q", "--quiet"}. The first long name (or the first
  // name) is the key the values are stored under, without dashes.
  std::vector<std::string> names;
  bool takes_value = false;
  std::string value_name;  // for help text, e.g. "SECONDS"
  std::string help;
};

class ParsedFlags {
 public:
  bool Has(std::string_view key) const { return values_.contains(key); }
  // The last value given, or `fallback`.
  std::string Get(std::string_view key, std::string_view fallback = "") const;
  // Every value of a repeatable flag, in order.
  std::vector<std::string> GetAll(std::string_view key) const;
  // True when a boolean flag was given without "=false".
  bool GetBool(std::string_view key) const;

  std::vector<std::string>& positional() { return positional_; }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string>&,
                                                size_t,
                                                const std::vector<FlagSpec>&,
                                                bool);
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  std::vector<std::string> positional_;
};

// Parses args[start...]. With `stop_at_positional`, everything from the
// first positional argument on is positional (what `exec ID CMD -x` needs);
// otherwise flags and positionals may mix. "--" always ends the flags.
absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string>& args,
                                       size_t start,
                                       const std::vector<FlagSpec>& specs,
                                       bool stop_at_positional);

// Help lines for `specs`, one per flag.
std::string FlagsHelp(const std::vector<FlagSpec>& specs);

// A Go-style duration ("10s", "2m", "1h30m", "500ms"); a bare integer counts
// as seconds, which older crictl versions accepted.
absl::StatusOr<absl::Duration> ParseGoDuration(std::string_view text);

// A non-negative integer, for flags like --tail or stop's --timeout.
absl::StatusOr<int64_t> ParseInt(std::string_view flag, std::string_view text);

}  // namespace crius::client
