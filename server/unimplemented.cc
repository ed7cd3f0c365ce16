// The CRI calls whose pieces are not built yet. Each answers UNIMPLEMENTED
// with a message naming the call, never a fake success; a call moves out of
// this file when the work that builds it lands.

#include "absl/strings/str_cat.h"
#include "server/cri_service.h"

namespace crius::server {
namespace {
absl::Status NotBuilt(const char* method) {
  return absl::UnimplementedError(
      absl::StrCat(method, " is not implemented by crius yet"));
}
}  // namespace

#define CRIUS_UNBUILT_UNARY(M)                                              \
  absl::Status CriService::M(const CallContext&, const runtime::v1::M##Request&, \
                             runtime::v1::M##Response*) {                   \
    return NotBuilt(#M);                                                    \
  }
#define CRIUS_UNBUILT_STREAM(M, Req, Resp)                                  \
  absl::Status CriService::M(const CallContext&, const runtime::v1::Req&,   \
                             const std::function<bool(const runtime::v1::Resp&)>&) { \
    return NotBuilt(#M);                                                    \
  }

// Containers.
CRIUS_UNBUILT_UNARY(CheckpointContainer)

}  // namespace crius::server
