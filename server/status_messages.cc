#include "server/status_messages.h"

namespace crius::server {

std::string ImageRefFor(const image::ImageManager& images, const ContainerRecord& r) {
  auto image = images.Find(r.image_id);
  if (!image.ok() || (*image)->repo_digests.empty()) return r.image_id;
  const std::string& name = r.image_name;
  for (const std::string& digest : (*image)->repo_digests) {
    const std::string repo = digest.substr(0, digest.find('@'));
    if (name.compare(0, repo.size(), repo) == 0 &&
        (name.size() == repo.size() || name[repo.size()] == ':' || name[repo.size()] == '@')) {
      return digest;
    }
  }
  return (*image)->repo_digests.front();
}

void FillContainerStatus(const ContainerRecord& r, const std::string& image_ref,
                         runtime::v1::ContainerStatus* st) {
  st->set_id(r.id);
  *st->mutable_metadata() = r.config.metadata();
  st->set_state(r.state);
  st->set_created_at(r.created_at_ns);
  st->set_started_at(r.started_at_ns);
  st->set_finished_at(r.finished_at_ns);
  st->set_exit_code(r.exit_code);
  st->mutable_image()->set_image(r.image_name);
  st->set_image_ref(image_ref);
  st->set_image_id(r.image_id);
  st->set_reason(r.reason);
  st->set_message(r.message);
  *st->mutable_labels() = r.config.labels();
  *st->mutable_annotations() = r.config.annotations();
  *st->mutable_mounts() = r.config.mounts();
  st->set_log_path(r.log_path);
  if (r.resources.has_linux()) *st->mutable_resources()->mutable_linux() = r.resources.linux();
}

void FillPodSandboxStatus(const SandboxRecord& r, runtime::v1::PodSandboxStatus* st) {
  st->set_id(r.id);
  *st->mutable_metadata() = r.config.metadata();
  st->set_state(r.state);
  st->set_created_at(r.created_at_ns);
  if (!r.ips.empty() && r.state == runtime::v1::SANDBOX_READY) {
    st->mutable_network()->set_ip(r.ips.front());
    for (size_t i = 1; i < r.ips.size(); ++i) st->mutable_network()->add_additional_ips()->set_ip(r.ips[i]);
  }
  *st->mutable_linux()->mutable_namespaces()->mutable_options() =
      r.config.linux().security_context().namespace_options();
  *st->mutable_labels() = r.config.labels();
  *st->mutable_annotations() = r.config.annotations();
  st->set_runtime_handler(r.runtime_handler);
}

}  // namespace crius::server
