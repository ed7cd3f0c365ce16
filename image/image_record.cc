#include "image/image_record.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/strings.h"
#include "image/digest.h"
#include "nlohmann/json.hpp"

namespace crius::image {
namespace {

std::optional<int64_t> ParseUid(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0 || v > 0xffffffffLL) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

ImageUser ParseImageUser(std::string_view user) {
  ImageUser out;
  std::string_view name = user.substr(0, user.find(':'));
  if (name.empty()) return out;
  if (std::optional<int64_t> uid = ParseUid(name)) {
    out.uid = uid;
  } else {
    out.username = std::string(name);
  }
  return out;
}

absl::StatusOr<ImageUser> UserFromConfig(std::string_view config_json) {
  try {
    nlohmann::json j = nlohmann::json::parse(config_json);
    if (!j.is_object()) return absl::InvalidArgumentError("image config is not a JSON object");
    auto config = j.find("config");
    if (config == j.end() || !config->is_object()) return ImageUser{};
    auto user = config->find("User");
    if (user == config->end() || !user->is_string()) return ImageUser{};
    return ParseImageUser(user->get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("parse image config: ", e.what()));
  }
}

std::vector<std::string> ImageRecord::Blobs() const {
  std::vector<std::string> out = layer_digests;
  out.push_back(id);
  if (!manifest_digest.empty()) out.push_back(manifest_digest);
  for (const std::string& rd : repo_digests) {
    size_t at = rd.rfind('@');
    if (at != std::string::npos) out.push_back(rd.substr(at + 1));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::Status ValidateImageRecord(const ImageRecord& r) {
  RETURN_IF_ERROR(Annotate(ValidateDigest(r.id), "image id"));
  if (!r.manifest_digest.empty()) {
    RETURN_IF_ERROR(Annotate(ValidateDigest(r.manifest_digest), "manifest digest"));
  }
  for (const std::string& d : r.layer_digests) {
    RETURN_IF_ERROR(Annotate(ValidateDigest(d), "layer digest"));
  }
  for (const std::string& c : r.chain_ids) RETURN_IF_ERROR(Annotate(ValidateDigest(c), "chain id"));
  for (const std::string& t : r.repo_tags) {
    if (t.empty()) return absl::InvalidArgumentError("empty repo tag");
  }
  for (const std::string& rd : r.repo_digests) {
    size_t at = rd.rfind('@');
    if (at == std::string::npos || at == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("repo digest \"", rd, "\" is not <name>@<digest>"));
    }
    RETURN_IF_ERROR(Annotate(ValidateDigest(std::string_view(rd).substr(at + 1)),
                             absl::StrCat("repo digest \"", rd, "\"")));
  }
  return absl::OkStatus();
}

std::string EncodeImageRecord(const ImageRecord& r, int64_t updated_ns) {
  nlohmann::json j = {
      {"id", r.id},
      {"repo_tags", r.repo_tags},
      {"repo_digests", r.repo_digests},
      {"size", r.size},
      {"manifest_digest", r.manifest_digest},
      {"layer_digests", r.layer_digests},
      {"chain_ids", r.chain_ids},
      {"pinned", r.pinned},
      {"config", r.config_json},
      {"updated_ns", updated_ns},
  };
  // Invalid UTF-8 in a tag must not make the write throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<ImageRecord> DecodeImageRecord(std::string_view data, int64_t* updated_ns) {
  ImageRecord r;
  try {
    nlohmann::json j = nlohmann::json::parse(data);
    r.id = j.at("id").get<std::string>();
    r.repo_tags = j.at("repo_tags").get<std::vector<std::string>>();
    r.repo_digests = j.at("repo_digests").get<std::vector<std::string>>();
    r.size = j.at("size").get<int64_t>();
    r.manifest_digest = j.at("manifest_digest").get<std::string>();
    r.layer_digests = j.at("layer_digests").get<std::vector<std::string>>();
    r.chain_ids = j.at("chain_ids").get<std::vector<std::string>>();
    r.pinned = j.at("pinned").get<bool>();
    r.config_json = j.at("config").get<std::string>();
    if (updated_ns != nullptr) *updated_ns = j.value("updated_ns", int64_t{0});
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("parse image record: ", e.what()));
  }
  RETURN_IF_ERROR(Annotate(ValidateImageRecord(r), "image record"));
  absl::StatusOr<ImageUser> user = UserFromConfig(r.config_json);
  if (user.ok()) r.user = *std::move(user);
  return r;
}

}  // namespace crius::image
