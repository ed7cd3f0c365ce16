#include "cni/cache.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status.h"

namespace crius::cni {
namespace {

constexpr size_t kMaxEntryBytes = 4 << 20;

std::string ResultsDir(const std::string& cache_dir) { return JoinPath(cache_dir, "results"); }

absl::Status Malformed(std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("CNI cache entry: ", absl::string_view(what.data(), what.size())));
}

std::string StringField(const nlohmann::json& doc, const char* key) {
  auto it = doc.find(key);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

absl::StatusOr<CniArgs> ParseCniArgs(const nlohmann::json& doc) {
  CniArgs args;
  auto it = doc.find("cniArgs");
  if (it == doc.end() || it->is_null()) return args;
  if (!it->is_array()) return Malformed("\"cniArgs\" is not a list");
  for (const auto& pair : *it) {
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string()) {
      return Malformed("a \"cniArgs\" item is not a [key, value] pair");
    }
    args.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
  }
  return args;
}

}  // namespace

std::string CacheFilePath(const std::string& cache_dir, const std::string& network_name,
                          const std::string& container_id, const std::string& if_name) {
  return JoinPath(ResultsDir(cache_dir), absl::StrCat(network_name, "-", container_id, "-", if_name));
}

nlohmann::json CacheEntryToJson(const CacheEntry& e) {
  nlohmann::json doc = {
      {"kind", kCacheKind},
      {"containerId", e.container_id},
      {"config", absl::Base64Escape(e.config)},
      {"ifName", e.if_name},
      {"networkName", e.network_name},
  };
  if (!e.netns.empty()) doc["netns"] = e.netns;
  if (!e.cni_args.empty()) {
    nlohmann::json args = nlohmann::json::array();
    for (const auto& [k, v] : e.cni_args) args.push_back({k, v});
    doc["cniArgs"] = std::move(args);
  }
  if (e.capability_args.is_object() && !e.capability_args.empty()) {
    doc["capabilityArgs"] = e.capability_args;
  }
  if (e.result) doc["result"] = *e.result;
  return doc;
}

absl::StatusOr<CacheEntry> CacheEntryFromJson(const nlohmann::json& doc) {
  if (!doc.is_object()) return Malformed("not a JSON object");
  if (StringField(doc, "kind") != kCacheKind) {
    return Malformed(absl::StrCat("kind is \"", StringField(doc, "kind"), "\", not ", kCacheKind));
  }
  CacheEntry e;
  e.container_id = StringField(doc, "containerId");
  e.if_name = StringField(doc, "ifName");
  e.network_name = StringField(doc, "networkName");
  e.netns = StringField(doc, "netns");
  if (e.container_id.empty() || e.if_name.empty() || e.network_name.empty()) {
    return Malformed("containerId, ifName or networkName missing");
  }
  if (!absl::Base64Unescape(StringField(doc, "config"), &e.config) || e.config.empty()) {
    return Malformed("\"config\" is not base64 data");
  }
  ASSIGN_OR_RETURN(e.cni_args, ParseCniArgs(doc));
  auto caps = doc.find("capabilityArgs");
  if (caps != doc.end() && caps->is_object()) e.capability_args = *caps;
  auto result = doc.find("result");
  if (result != doc.end() && result->is_object() && !result->empty()) e.result = *result;
  return e;
}

absl::Status WriteCacheEntry(const std::string& cache_dir, const CacheEntry& entry) {
  RETURN_IF_ERROR(MkdirAll(ResultsDir(cache_dir), 0700));
  const std::string path =
      CacheFilePath(cache_dir, entry.network_name, entry.container_id, entry.if_name);
  return Annotate(WriteFileAtomic(path, CacheEntryToJson(entry).dump(), 0600),
                  absl::StrCat("write CNI cache ", path));
}

absl::StatusOr<std::optional<CacheEntry>> ReadCacheEntry(const std::string& cache_dir,
                                                         const std::string& network_name,
                                                         const std::string& container_id,
                                                         const std::string& if_name) {
  const std::string path = CacheFilePath(cache_dir, network_name, container_id, if_name);
  auto bytes = ReadFile(path, kMaxEntryBytes);
  if (absl::IsNotFound(bytes.status())) return std::optional<CacheEntry>();
  if (!bytes.ok()) return Annotate(bytes.status(), absl::StrCat("read CNI cache ", path));
  nlohmann::json doc = nlohmann::json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
  auto entry = CacheEntryFromJson(doc);
  if (!entry.ok()) return Annotate(entry.status(), path);
  return std::optional<CacheEntry>(std::move(*entry));
}

absl::StatusOr<std::vector<CacheEntry>> FindCacheEntries(const std::string& cache_dir,
                                                         const std::string& container_id) {
  namespace fs = std::filesystem;
  std::vector<std::string> names;
  std::error_code ec;
  const std::string dir = ResultsDir(cache_dir);
  // The id sits between the network name and the ifname, each joined by '-'.
  const std::string infix = absl::StrCat("-", container_id, "-");
  for (const auto& item : fs::directory_iterator(dir, ec)) {
    std::string name = item.path().filename().string();
    if (absl::StrContains(name, infix)) names.push_back(std::move(name));
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return ErrnoStatus(ec.value(), absl::StrCat("list ", dir));
  }
  std::sort(names.begin(), names.end());
  std::vector<CacheEntry> entries;
  for (const std::string& name : names) {
    auto bytes = ReadFile(JoinPath(dir, name), kMaxEntryBytes);
    if (!bytes.ok()) continue;
    nlohmann::json doc = nlohmann::json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
    auto entry = CacheEntryFromJson(doc);
    // A name match alone is not enough: "a-b-c" contains "-b-" for id "b"
    // and for a network named "a-b".
    if (!entry.ok() || entry->container_id != container_id) continue;
    entries.push_back(std::move(*entry));
  }
  return entries;
}

absl::Status RemoveCacheEntry(const std::string& cache_dir, const CacheEntry& entry) {
  const std::string path =
      CacheFilePath(cache_dir, entry.network_name, entry.container_id, entry.if_name);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(absl::StrCat("remove CNI cache ", path));
  }
  return absl::OkStatus();
}

}  // namespace crius::cni
