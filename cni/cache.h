#pragma once
// The CNI result cache, in libcni's on-disk layout so crius, CRI-O,
// containerd and the cnitool all read each other's entries:
//
//   <cache_dir>/results/<network name>-<container id>-<ifname>
//
// holding one JSON object:
//   kind            "cniCacheV1"
//   containerId     the sandbox id
//   config          the network list's bytes, base64 (Go's []byte encoding)
//   ifName          "eth0"
//   networkName     the list's name
//   netns           the netns path (omitted when empty)
//   cniArgs         [["K8S_POD_NAME", "x"], ...] (omitted when empty)
//   capabilityArgs  {"portMappings": [...], ...} (omitted when empty)
//   result          the ADD result (omitted until ADD has succeeded)
//
// libcni writes the directory 0700 and files 0600; so does crius.
//
// crius writes an entry before ADD (without "result") as well as after it,
// so that after a crash in the middle of ADD, DEL still knows which config
// and arguments to undo it with. The entry goes after a successful DEL.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace crius::cni {

inline constexpr char kCacheKind[] = "cniCacheV1";

using CniArgs = std::vector<std::pair<std::string, std::string>>;

struct CacheEntry {
  std::string container_id;
  std::string config;  // the list's bytes (decoded)
  std::string if_name;
  std::string network_name;
  std::string netns;
  CniArgs cni_args;
  nlohmann::json capability_args = nlohmann::json::object();
  std::optional<nlohmann::json> result;
};

// The entry's path. Callers validate the three parts first (ValidateName in
// invoke.h), so none of them can hold a '/'.
std::string CacheFilePath(const std::string& cache_dir, const std::string& network_name,
                          const std::string& container_id, const std::string& if_name);

nlohmann::json CacheEntryToJson(const CacheEntry& entry);
// InvalidArgument for anything that is not a cniCacheV1 entry.
absl::StatusOr<CacheEntry> CacheEntryFromJson(const nlohmann::json& doc);

// Writes the entry atomically, creating <cache_dir>/results as needed.
absl::Status WriteCacheEntry(const std::string& cache_dir, const CacheEntry& entry);

// The entry for one attachment; nullopt when there is none.
absl::StatusOr<std::optional<CacheEntry>> ReadCacheEntry(const std::string& cache_dir,
                                                         const std::string& network_name,
                                                         const std::string& container_id,
                                                         const std::string& if_name);

// Every readable cniCacheV1 entry of `container_id`, whatever its network
// (the conf dir may have changed since ADD), ordered by file name. Files
// that cannot be read or parsed are skipped, as libcni skips them.
absl::StatusOr<std::vector<CacheEntry>> FindCacheEntries(const std::string& cache_dir,
                                                         const std::string& container_id);

// Removes the entry; a missing one is success.
absl::Status RemoveCacheEntry(const std::string& cache_dir, const CacheEntry& entry);

}  // namespace crius::cni
