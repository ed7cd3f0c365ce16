#pragma once
// Records as the CRI status messages: one mapping shared by the Status RPCs
// and the container events, so an event carries exactly what
// ContainerStatus/PodSandboxStatus would have answered at that moment.

#include <string>

#include "api/api.pb.h"
#include "image/image_manager.h"
#include "server/container_record.h"
#include "server/sandbox_record.h"

namespace crius::server {

// kubelet shows image_ref as the pod's imageID: like containerd and CRI-O,
// it is the image's repo digest (the one of the repository the container
// named, when the image has several), and the image id only for an image
// without one (e.g. imported) or one removed since.
std::string ImageRefFor(const image::ImageManager& images, const ContainerRecord& r);

// Everything but the verbose info.
void FillContainerStatus(const ContainerRecord& r, const std::string& image_ref,
                         runtime::v1::ContainerStatus* out);
void FillPodSandboxStatus(const SandboxRecord& r, runtime::v1::PodSandboxStatus* out);

}  // namespace crius::server
