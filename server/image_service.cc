// The ImageService RPCs: PullImage, ImageStatus, ListImages, RemoveImage,
// ImageFsInfo and StreamImages. The work is in image::ImageManager; this
// file maps records to CRI messages.

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "image/image_manager.h"
#include "nlohmann/json.hpp"
#include "server/cri_service.h"
#include "server/stream_batches.h"

namespace crius::server {
namespace {

void FillImage(const image::ImageRecord& r, runtime::v1::Image* out) {
  out->set_id(r.id);
  for (const auto& t : r.repo_tags) out->add_repo_tags(t);
  for (const auto& d : r.repo_digests) out->add_repo_digests(d);
  out->set_size(static_cast<uint64_t>(r.size));
  if (r.user.uid.has_value()) {
    out->mutable_uid()->set_value(*r.user.uid);
  } else {
    out->set_username(r.user.username);
  }
  out->mutable_spec()->set_image(r.id);
  out->set_pinned(r.pinned);
}

image::Credentials CredentialsOf(const runtime::v1::AuthConfig& auth) {
  image::Credentials c;
  c.username = auth.username();
  c.password = auth.password();
  c.auth = auth.auth();
  c.identity_token = auth.identity_token();
  c.registry_token = auth.registry_token();
  return c;
}

runtime::v1::FilesystemUsage UsageOf(const image::FsUsage& u) {
  runtime::v1::FilesystemUsage out;
  out.set_timestamp(absl::ToUnixNanos(absl::Now()));
  out.mutable_fs_id()->set_mountpoint(u.mountpoint);
  out.mutable_used_bytes()->set_value(static_cast<uint64_t>(u.used_bytes));
  out.mutable_inodes_used()->set_value(static_cast<uint64_t>(u.inodes_used));
  return out;
}

}  // namespace

absl::Status CriService::PullImage(const CallContext&, const runtime::v1::PullImageRequest& req,
                                   runtime::v1::PullImageResponse* resp) {
  auto pulled = images_->Pull(req.image().image(), CredentialsOf(req.auth()));
  if (!pulled.ok()) return pulled.status();
  resp->set_image_ref((*pulled)->id);
  return absl::OkStatus();
}

absl::Status CriService::ImageStatus(const CallContext&, const runtime::v1::ImageStatusRequest& req,
                                     runtime::v1::ImageStatusResponse* resp) {
  auto found = images_->Find(req.image().image());
  // A missing image is an empty answer, not an error: kubelet asks before
  // every pull.
  if (!found.ok()) {
    return found.status().code() == absl::StatusCode::kNotFound ? absl::OkStatus() : found.status();
  }
  const image::ImageRecord& r = **found;
  FillImage(r, resp->mutable_image());
  if (req.verbose()) {
    nlohmann::json info = {{"id", r.id},
                           {"manifestDigest", r.manifest_digest},
                           {"chainIDs", r.chain_ids},
                           {"layers", r.layer_digests},
                           {"imageSpec", nlohmann::json::parse(r.config_json, nullptr, false)}};
    (*resp->mutable_info())["info"] = info.dump();
  }
  return absl::OkStatus();
}

absl::Status CriService::ListImages(const CallContext&, const runtime::v1::ListImagesRequest& req,
                                    runtime::v1::ListImagesResponse* resp) {
  if (req.has_filter() && req.filter().has_image() && !req.filter().image().image().empty()) {
    auto found = images_->Find(req.filter().image().image());
    if (found.ok()) FillImage(**found, resp->add_images());
    return absl::OkStatus();
  }
  for (const auto& r : images_->List()) FillImage(*r, resp->add_images());
  return absl::OkStatus();
}

absl::Status CriService::StreamImages(
    const CallContext&, const runtime::v1::StreamImagesRequest& req,
    const std::function<bool(const runtime::v1::StreamImagesResponse&)>& send) {
  runtime::v1::ListImagesRequest list_req;
  *list_req.mutable_filter() = req.filter();
  runtime::v1::ListImagesResponse all;
  RETURN_IF_ERROR(ListImages(CallContext{}, list_req, &all));
  return StreamInBatches<runtime::v1::StreamImagesResponse>(
      *all.mutable_images(), [](const auto&) { return true; },
      [](auto& img, auto& batch) { *batch.add_images() = std::move(img); }, send);
}

absl::Status CriService::RemoveImage(const CallContext&, const runtime::v1::RemoveImageRequest& req,
                                     runtime::v1::RemoveImageResponse*) {
  return images_->Remove(req.image().image());
}

absl::Status CriService::ImageFsInfo(const CallContext&, const runtime::v1::ImageFsInfoRequest&,
                                     runtime::v1::ImageFsInfoResponse* resp) {
  *resp->add_image_filesystems() = UsageOf(images_->ImageFsUsage());
  *resp->add_container_filesystems() = UsageOf(images_->ContainerFsUsage());
  return absl::OkStatus();
}

}  // namespace crius::server
