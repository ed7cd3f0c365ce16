#include "cni/network_config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace crius::cni {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxConfigBytes = 1 << 20;

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

}  // namespace

absl::StatusOr<NetworkConfigList> ParseNetworkConfig(const std::string& path,
                                                     const std::string& bytes) {
  nlohmann::json doc = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
  }
  NetworkConfigList list;
  list.path = path;
  list.name = StringField(doc, "name");
  list.cni_version = StringField(doc, "cniVersion");
  if (list.name.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no \"name\""));
  if (absl::EndsWith(path, ".conflist")) {
    auto plugins = doc.find("plugins");
    if (plugins == doc.end() || !plugins->is_array() || plugins->empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": no \"plugins\" list"));
    }
    for (size_t i = 0; i < plugins->size(); ++i) {
      if (auto s = CheckPlugin((*plugins)[i], i); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
      }
      list.plugins.push_back((*plugins)[i]);
    }
    list.raw = std::move(doc);
  } else {
    if (auto s = CheckPlugin(doc, 0); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
    }
    list.plugins.push_back(doc);
    list.raw = {{"cniVersion", list.cni_version}, {"name", list.name}, {"plugins", {doc}}};
  }
  if (list.cni_version.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no \"cniVersion\""));
  }
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
    std::ifstream in(p, std::ios::binary);
    std::string bytes(kMaxConfigBytes + 1, '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    bytes.resize(static_cast<size_t>(in.gcount()));
    if (bytes.size() > kMaxConfigBytes) {
      refused.push_back(absl::StrCat(p, ": larger than 1 MiB"));
      continue;
    }
    auto list = ParseNetworkConfig(p, bytes);
    if (list.ok()) return list;
    refused.push_back(std::string(list.status().message()));
  }
  std::string msg = absl::StrCat("no network config found in ", conf_dir);
  if (!refused.empty()) absl::StrAppend(&msg, " (refused: ", absl::StrJoin(refused, "; "), ")");
  return absl::NotFoundError(msg);
}

}  // namespace crius::cni
