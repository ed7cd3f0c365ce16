#pragma once
// CNI network configuration files: loading and validating the files in the
// configuration directory the way libcni does, so an operator's conflist
// means the same thing to crius as to other runtimes.
//
// Spec versions: crius speaks CNI 0.3.0 and later (0.3.0, 0.3.1, 0.4.0,
// 1.0.0, and newer 1.x whose results keep the 1.0 shape). Configurations
// declaring 0.1.0 or 0.2.0 are refused at load time, with a message saying
// so: those versions predate plugin chaining and the interfaces/ips result
// the pod IP is read from, and every plugin still shipped today speaks a
// newer version. Refusing at load surfaces the problem as NetworkReady=false
// instead of as a failed RunPodSandbox.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace crius::cni {

// A parsed "major.minor.patch" spec version.
struct CniVersion {
  int major = 0;
  int minor = 0;
  int patch = 0;
  friend auto operator<=>(const CniVersion&, const CniVersion&) = default;
};

// Accepts "1.0.0" and also "1.0" (patch 0), as plugins' own parsers do.
absl::StatusOr<CniVersion> ParseCniVersion(std::string_view version);

// Whether `version` parses and is at least `min`. Unparsable is false.
bool VersionAtLeast(std::string_view version, CniVersion min);

// One network: a .conflist, or a single-plugin .conf/.json lifted into a
// list of one.
struct NetworkConfigList {
  std::string name;
  std::string cni_version;
  std::string path;                     // the file it came from
  std::vector<nlohmann::json> plugins;  // each plugin's config object, in order
  nlohmann::json raw;                   // the whole list, as a conflist
  bool disable_check = false;           // the list's "disableCheck"
  // The list as bytes, stored in the result cache (libcni keeps the list's
  // own bytes there) so DEL can run the exact configuration ADD ran even
  // after the conf dir changed. The file's bytes for a .conflist; the lifted
  // list, serialized, for a .conf/.json.
  std::string bytes;
};

// Parses one configuration file's bytes. `path` decides the format: files
// ending in .conflist hold a list, .conf and .json one plugin.
absl::StatusOr<NetworkConfigList> ParseNetworkConfig(const std::string& path,
                                                     const std::string& bytes);

// Parses bytes in conflist format whatever their origin (a cache entry's
// "config"); `source` only names them in errors.
absl::StatusOr<NetworkConfigList> ParseNetworkConfigList(const std::string& source,
                                                         const std::string& bytes);

// Loads the default network: the first valid file by name in `conf_dir` with
// a .conflist, .conf or .json suffix. Invalid files are skipped, as libcni
// does; when none is valid the error lists why each was refused.
absl::StatusOr<NetworkConfigList> LoadDefaultNetwork(const std::string& conf_dir);

}  // namespace crius::cni
