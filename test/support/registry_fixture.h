#pragma once
// RegistryFixture: the real registry (Debian's docker-registry, i.e.
// distribution 2.8) on a free 127.0.0.1 port, with its storage in a temp
// dir, optionally behind htpasswd basic auth or token auth (a token server
// on loopback that checks basic credentials or an identity token and signs
// JWTs the registry verifies against a throwaway certificate). It pushes
// images made by ImageBuilder over the registry API, and can corrupt a
// stored blob for digest-verification tests. The destructor stops the
// registry by PID and removes everything.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/subprocess.h"
#include "image/http.h"
#include "image/reference.h"
#include "test/support/fake_http_server.h"
#include "test/support/image_builder.h"
#include "test/support/token_issuer.h"

namespace crius::testing {

struct RegistryOptions {
  enum class Auth { kNone, kBasic, kToken };
  Auth auth = Auth::kNone;
  std::string username = "crius";
  std::string password = "crius-secret";
  // kToken: an OAuth2 refresh token the token server also accepts.
  std::string identity_token = "crius-identity-token";
  absl::Duration token_lifetime = absl::Minutes(5);
  // Serve HTTPS with a throwaway self-signed certificate for 127.0.0.1
  // (see ca_file()).
  bool tls = false;
};

struct PushResult {
  std::string manifest_digest;
  std::string config_digest;
};

class RegistryFixture {
 public:
  static absl::StatusOr<std::unique_ptr<RegistryFixture>> Start(RegistryOptions options = {});
  ~RegistryFixture();
  RegistryFixture(const RegistryFixture&) = delete;
  RegistryFixture& operator=(const RegistryFixture&) = delete;

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string url() const { return (options_.tls ? "https://" : "http://") + host(); }
  // With tls: the PEM certificate clients must trust.
  std::string ca_file() const;
  const std::string& dir() const { return dir_; }
  const RegistryOptions& options() const { return options_; }

  // ParseReference(host() + "/" + repo_ref); aborts the test on a bad one.
  image::Reference Ref(std::string_view repo_ref) const;

  // Pushes the layers, config and manifest; tags it when `repo_tag` has a
  // tag ("app:v1"), else pushes by digest only ("app").
  absl::StatusOr<PushResult> Push(const BuiltImage& image, std::string_view repo_tag);
  // Pushes every image of the index by digest, then the index; returns its digest.
  absl::StatusOr<std::string> PushIndex(const BuiltIndex& index, std::string_view repo_tag);
  absl::Status PushBlob(const std::string& repo, const Blob& blob);
  // Builds the usual test image (busybox, Cmd /bin/sh, one gzip layer),
  // pushes it as `repo_tag` ("e2e/busybox:v1") and returns the reference
  // to pull: "<host>/<repo_tag>".
  absl::StatusOr<std::string> PushBusybox(std::string_view repo_tag);
  // Returns the digest the registry reports.
  absl::StatusOr<std::string> PushManifest(const std::string& repo, const std::string& tag_or_digest,
                                           const Blob& manifest);

  // Where the registry keeps a blob's bytes.
  std::string BlobDataPath(const std::string& digest) const;
  // Flips the bytes of a stored blob (same size), so the registry serves
  // content that no longer matches its digest.
  absl::Status CorruptBlob(const std::string& digest) const;

  // Token auth only: requests the token server has seen.
  size_t token_requests() const { return token_server_ ? token_server_->request_count() : 0; }
  std::string token_realm() const { return token_server_ ? token_server_->url() + "/token" : ""; }

  // The registry's log, for failure messages.
  std::string Log() const;

 private:
  explicit RegistryFixture(RegistryOptions options) : options_(std::move(options)) {}
  absl::Status Init();
  absl::Status StartTokenServer();
  absl::Status MakeTlsCertificate() const;
  absl::Status WriteConfig() const;
  absl::Status Launch();
  absl::StatusOr<image::HttpResponse> Send(image::HttpRequest req, const std::string& repo);
  FakeResponse HandleTokenRequest(const FakeRequest& req) const;

  RegistryOptions options_;
  std::string dir_;
  int port_ = 0;
  std::optional<Subprocess> registry_;
  std::optional<TokenIssuer> issuer_;
  std::unique_ptr<FakeHttpServer> token_server_;
  std::string authorization_;  // last Authorization answer used for pushes
};

}  // namespace crius::testing
