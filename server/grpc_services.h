#pragma once
// The gRPC services: thin adapters that route every RPC of runtime.v1's
// RuntimeService and ImageService through the Edge to CriService.

#include <memory>

#include "api/api.grpc.pb.h"
#include "server/cri_service.h"
#include "server/edge.h"

namespace crius::server {

std::unique_ptr<runtime::v1::RuntimeService::Service> MakeRuntimeService(Edge* edge, CriService* cri);
std::unique_ptr<runtime::v1::ImageService::Service> MakeImageService(Edge* edge, CriService* cri);

}  // namespace crius::server
