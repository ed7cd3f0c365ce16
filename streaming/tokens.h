#pragma once
// Single-use, short-lived tokens naming one pending streaming request. The
// Exec/Attach/PortForward RPCs mint one; the HTTP handler takes it back
// exactly once. Tokens are 16 bytes from getrandom(2), base64url without
// padding, so they are unguessable and safe in a URL path.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/api.pb.h"

namespace crius::streaming {

enum class RequestKind { kExec, kAttach, kPortForward };

struct PendingRequest {
  RequestKind kind = RequestKind::kExec;
  runtime::v1::ExecRequest exec;
  runtime::v1::AttachRequest attach;
  runtime::v1::PortForwardRequest port_forward;
};

class TokenStore {
 public:
  using Clock = std::function<absl::Time()>;
  TokenStore(absl::Duration ttl, size_t max_tokens, Clock clock = [] { return absl::Now(); });

  // RESOURCE_EXHAUSTED when `max_tokens` unexpired tokens are outstanding.
  absl::StatusOr<std::string> Mint(PendingRequest req);
  // The request, once; nullopt for unknown, used or expired tokens.
  std::optional<PendingRequest> Take(std::string_view token);
  size_t Outstanding();

 private:
  struct Entry {
    PendingRequest req;
    absl::Time expires;
  };
  void SweepLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration ttl_;
  const size_t max_tokens_;
  Clock clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> tokens_ ABSL_GUARDED_BY(mu_);
};

// `n` bytes from the kernel's CSPRNG, base64url-encoded without padding.
absl::StatusOr<std::string> RandomToken(size_t n);

}  // namespace crius::streaming
