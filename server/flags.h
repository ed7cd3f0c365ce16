#pragma once
// criusd's command line and the layered config load it drives.
//
// Flags are the last layer: they override the config file and drop-ins, so
// an operator (or a test) can move one setting without writing a file.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/config.h"

namespace crius::server {

struct Flags {
  std::string config_path = "/etc/crius/crius.yaml";
  bool config_path_set = false;  // --config given: then the file must exist
  std::string config_dir = "/etc/crius/crius.d";
  bool print_config = false;
  bool help = false;
  bool version = false;
  bool list_failpoints = false;

  // Overrides; unset means "keep what the files say".
  std::optional<std::string> listen;
  std::optional<std::string> root;
  std::optional<std::string> state;
  std::optional<std::string> log_level;
  std::optional<std::string> cni_conf_dir;
  std::vector<std::string> cni_bin_dirs;  // non-empty => replaces cni.bin_dirs
  std::optional<std::string> streaming_address;
  std::optional<int> streaming_port;
  std::optional<std::string> metrics_address;
  std::optional<std::string> default_runtime;  // runtime.default_handler
};

// Parses argv[1..argc). Accepts "--flag value" and "--flag=value" (and -h);
// --cni-bin-dir may repeat and takes comma-separated lists. An unknown flag
// or a stray argument is InvalidArgument naming it.
absl::StatusOr<Flags> ParseFlags(int argc, char** argv);

// The --help text: every flag with its default and the config key it sets.
std::string FlagsHelp();

// DefaultConfig -> Flags::config_path (a missing file is fine unless --config
// was given) -> <config_dir>/*.yaml and *.yml in name order (dotfiles are
// skipped, which also skips a ConfigMap volume's "..data") -> flags -> Resolve.
absl::StatusOr<Config> LoadConfig(const Flags& flags);

}  // namespace crius::server
