#pragma once
// RegistryClient: pulls manifests and blobs over the registry HTTP API v2
// (the OCI distribution spec), the way containerd and CRI-O do:
//   - endpoints: a host's configured mirrors first, in order, then the host
//     itself; loopback registries speak plain HTTP unless given a CA file,
//     others HTTPS (an "insecure" host skips TLS verification and falls
//     back to plain HTTP when the TLS connection fails);
//     docker.io is served by registry-1.docker.io;
//   - auth: challenge-driven (Bearer token or Basic), tokens cached per
//     registry, repository scope and identity until they expire;
//   - redirects (blob storage) are followed by hand, and Authorization is
//     only ever sent to the origin the request was made to;
//   - every byte is checked: manifests against the digest that named them,
//     blobs against size and digest while they stream to the caller.
// Thread-safe: concurrent pulls share only the token cache.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "image/descriptor.h"
#include "image/http.h"
#include "image/reference.h"
#include "image/registry_auth.h"

namespace crius::image {

// Per-registry settings, keyed by a reference's domain ("docker.io",
// "quay.io", "127.0.0.1:5000").
struct RegistryHostConfig {
  std::string host;
  // Base URLs tried before the host itself, e.g. "http://127.0.0.1:5001".
  // A mirror failing to connect, or answering 404 / 5xx / auth errors, is
  // skipped for the next.
  std::vector<std::string> mirrors;
  // HTTPS without verification, then plain HTTP.
  bool insecure = false;
  // PEM bundle that replaces the system CAs for this host and its mirrors.
  std::string ca_file;
};

struct RegistryConfig {
  std::vector<RegistryHostConfig> hosts;
  // Docker-style config.json consulted when a pull carries no credentials.
  std::string auth_file;
  absl::Duration connect_timeout = absl::Seconds(30);
  // A transfer that receives no byte for this long is aborted (whole seconds).
  absl::Duration progress_timeout = absl::Seconds(60);
  size_t max_manifest_bytes = size_t{4} << 20;
  std::string user_agent = "crius";
};

struct FetchedManifest {
  std::string media_type;  // one of IsIndexMediaType / IsImageManifestMediaType
  std::string digest;      // of `bytes`, verified
  std::string bytes;
};

// Receives a blob as it streams. An error aborts the fetch.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  virtual absl::Status Write(std::string_view chunk) = 0;
};

class RegistryClient {
 public:
  explicit RegistryClient(RegistryConfig config);

  // The manifest or index `ref` names: by digest when it has one (the tag is
  // then ignored), else by tag. The bytes are checked against ref.digest and
  // against Docker-Content-Digest. Errors: FailedPrecondition "schema 1
  // manifests are not supported"; InvalidArgument for an unknown media type;
  // DataLoss for a digest mismatch; NotFound "manifest unknown";
  // Unauthenticated / PermissionDenied; ResourceExhausted (429); Unavailable
  // (unreachable, 5xx); DeadlineExceeded (no progress).
  absl::StatusOr<FetchedManifest> GetManifest(const Reference& ref, const Credentials& creds) const;
  // A manifest of ref's repository by digest (an index entry).
  absl::StatusOr<FetchedManifest> GetManifestByDigest(const Reference& repo, std::string_view digest,
                                                      const Credentials& creds) const;

  // Streams blob `digest` of ref's repository into `sink`, verifying the
  // size (when expected_size >= 0) and digest as it goes. DataLoss "digest
  // mismatch" / "size mismatch" after the sink has seen the bytes: the
  // caller must then discard what it wrote. NotFound "blob unknown".
  absl::Status FetchBlob(const Reference& repo, const std::string& digest, int64_t expected_size,
                         const Credentials& creds, BlobWriter& sink) const;
  // A small blob (an image config) in memory; ResourceExhausted past max_size.
  absl::StatusOr<std::string> FetchBlobToString(const Reference& repo, const std::string& digest,
                                                int64_t expected_size, const Credentials& creds,
                                                size_t max_size = size_t{8} << 20) const;

  const RegistryConfig& config() const { return config_; }

 private:
  struct Endpoint;
  struct FetchSpec;

  std::vector<Endpoint> EndpointsFor(std::string_view domain) const;
  absl::StatusOr<Credentials> ResolveCredentials(std::string_view domain, const Credentials& given) const;
  absl::StatusOr<HttpResponse> Fetch(const Reference& repo, const FetchSpec& spec,
                                            const Credentials& creds) const;
  absl::StatusOr<HttpResponse> FetchFrom(const Endpoint& ep, const std::string& base,
                                                const Reference& repo, const FetchSpec& spec,
                                                const Credentials& creds) const;
  absl::StatusOr<HttpResponse> SendFollowingRedirects(const Endpoint& ep, const std::string& url,
                                                             const std::string& authorization,
                                                             const FetchSpec& spec) const;
  absl::StatusOr<FetchedManifest> FetchManifest(const Reference& repo, std::string_view reference,
                                                std::string_view want_digest,
                                                const Credentials& creds) const;

  RegistryConfig config_;
  // Shared by concurrent pulls; internally locked.
  std::unique_ptr<TokenCache> tokens_;
};

}  // namespace crius::image
