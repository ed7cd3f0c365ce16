#include "cni/network_config.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/status.h"
#include "common/strings.h"

namespace crius::cni {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxConfigBytes = 1 << 20;
constexpr CniVersion kOldestSupported{0, 3, 0};

absl::Status CheckPlugin(const nlohmann::json& plugin, size_t index) {
  if (!plugin.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("plugin ", index, " is not an object"));
  }
  auto type = plugin.find("type");
  if (type == plugin.end() || !type->is_string() || type->get<std::string>().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("plugin ", index, " has no \"type\""));
  }
  // The plugin type becomes a file name under the CNI bin dirs: refuse
  // anything that could walk out of them.
  const std::string t = type->get<std::string>();
  if (absl::StrContains(t, "/") || t == "." || t == "..") {
    return absl::InvalidArgumentError(absl::StrCat("plugin type \"", t, "\" is not a plain name"));
  }
  return absl::OkStatus();
}

std::string StringField(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  return (it != obj.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

// Name, version and the version floor, shared by both file formats.
absl::Status CheckHeader(const NetworkConfigList& list) {
  if (list.name.empty()) return absl::InvalidArgumentError("no \"name\"");
  if (list.cni_version.empty()) return absl::InvalidArgumentError("no \"cniVersion\"");
  auto version = ParseCniVersion(list.cni_version);
  if (!version.ok()) return version.status();
  if (*version < kOldestSupported) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cniVersion ", list.cni_version,
        " is not supported (crius needs 0.3.0 or later: older versions have no plugin "
        "chaining and no interfaces/ips result)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<NetworkConfigList> ParseList(nlohmann::json doc, const std::string& bytes) {
  NetworkConfigList list;
  list.name = StringField(doc, "name");
  list.cni_version = StringField(doc, "cniVersion");
  auto disable = doc.find("disableCheck");
  list.disable_check = disable != doc.end() && disable->is_boolean() && disable->get<bool>();
  RETURN_IF_ERROR(CheckHeader(list));
  auto plugins = doc.find("plugins");
  if (plugins == doc.end() || !plugins->is_array() || plugins->empty()) {
    return absl::InvalidArgumentError("no \"plugins\" list");
  }
  for (size_t i = 0; i < plugins->size(); ++i) {
    RETURN_IF_ERROR(CheckPlugin((*plugins)[i], i));
    list.plugins.push_back((*plugins)[i]);
  }
  list.raw = std::move(doc);
  list.bytes = bytes;
  return list;
}

absl::StatusOr<NetworkConfigList> ParseSingle(nlohmann::json doc) {
  NetworkConfigList list;
  list.name = StringField(doc, "name");
  list.cni_version = StringField(doc, "cniVersion");
  RETURN_IF_ERROR(CheckHeader(list));
  RETURN_IF_ERROR(CheckPlugin(doc, 0));
  list.plugins.push_back(doc);
  list.raw = {{"cniVersion", list.cni_version}, {"name", list.name}, {"plugins", {doc}}};
  list.bytes = list.raw.dump();
  return list;
}

absl::StatusOr<nlohmann::json> ParseObject(const std::string& bytes) {
  nlohmann::json doc = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  return doc;
}

}  // namespace

absl::StatusOr<CniVersion> ParseCniVersion(std::string_view version) {
  std::vector<std::string> parts = absl::StrSplit(AbslView(version), '.');
  CniVersion v;
  int* fields[] = {&v.major, &v.minor, &v.patch};
  bool ok = parts.size() == 2 || parts.size() == 3;
  for (size_t i = 0; ok && i < parts.size(); ++i) {
    ok = !parts[i].empty() && absl::SimpleAtoi(parts[i], fields[i]) && *fields[i] >= 0;
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("cniVersion \"", AbslView(version), "\" is not a version number"));
  }
  return v;
}

bool VersionAtLeast(std::string_view version, CniVersion min) {
  auto v = ParseCniVersion(version);
  return v.ok() && *v >= min;
}

absl::StatusOr<NetworkConfigList> ParseNetworkConfig(const std::string& path,
                                                     const std::string& bytes) {
  if (absl::EndsWith(path, ".conflist")) return ParseNetworkConfigList(path, bytes);
  auto parse = [&]() -> absl::StatusOr<NetworkConfigList> {
    ASSIGN_OR_RETURN(nlohmann::json doc, ParseObject(bytes));
    return ParseSingle(std::move(doc));
  };
  auto list = parse();
  if (!list.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", list.status().message()));
  }
  list->path = path;
  return list;
}

absl::StatusOr<NetworkConfigList> ParseNetworkConfigList(const std::string& source,
                                                         const std::string& bytes) {
  auto parse = [&]() -> absl::StatusOr<NetworkConfigList> {
    ASSIGN_OR_RETURN(nlohmann::json doc, ParseObject(bytes));
    return ParseList(std::move(doc), bytes);
  };
  auto list = parse();
  if (!list.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", list.status().message()));
  }
  list->path = source;
  return list;
}

absl::StatusOr<NetworkConfigList> LoadDefaultNetwork(const std::string& conf_dir) {
  std::error_code ec;
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(conf_dir, ec)) {
    const std::string p = entry.path().string();
    if (!entry.is_regular_file(ec)) continue;
    if (absl::EndsWith(p, ".conflist") || absl::EndsWith(p, ".conf") || absl::EndsWith(p, ".json")) {
      files.push_back(p);
    }
  }
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat("no network config found in ", conf_dir, ": ", ec.message()));
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> refused;
  for (const auto& p : files) {
    auto bytes = ReadFile(p, kMaxConfigBytes);
    if (!bytes.ok()) {
      // A file may vanish between listing and reading while an operator
      // swaps configs; it is skipped like any other unusable file.
      refused.push_back(absl::StrCat(p, ": ", bytes.status().message()));
      continue;
    }
    auto list = ParseNetworkConfig(p, *bytes);
    if (list.ok()) return list;
    refused.push_back(std::string(list.status().message()));
  }
  std::string msg = absl::StrCat("no network config found in ", conf_dir);
  if (!refused.empty()) absl::StrAppend(&msg, " (refused: ", absl::StrJoin(refused, "; "), ")");
  return absl::NotFoundError(msg);
}

}  // namespace crius::cni
