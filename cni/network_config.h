#pragma once
// CNI network configuration files: loading and validating the files in the
// configuration directory the way libcni does, so an operator's conflist
// means the same thing to crius as to other runtimes.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace crius::cni {

// One network: a .conflist, or a single-plugin .conf/.json lifted into a
// list of one.
struct NetworkConfigList {
  std::string name;
  std::string cni_version;
  std::string path;                    // the file it came from
  std::vector<nlohmann::json> plugins; // each plugin's config object, in order
  nlohmann::json raw;                  // the whole list, as a conflist
};

// Parses one configuration file's bytes. `path` decides the format: files
// ending in .conflist hold a list, .conf and .json one plugin.
absl::StatusOr<NetworkConfigList> ParseNetworkConfig(const std::string& path,
                                                     const std::string& bytes);

// Loads the default network: the first valid file by name in `conf_dir` with
// a .conflist, .conf or .json suffix. Invalid files are skipped, as libcni
// does; when none is valid the error lists why each was refused.
absl::StatusOr<NetworkConfigList> LoadDefaultNetwork(const std::string& conf_dir);

}  // namespace crius::cni
