#pragma once
// The streaming server: exec, attach and port-forward for kubelet, kubectl
// and crictl. The Exec/Attach/PortForward RPCs only mint a single-use token
// here and answer its absolute URL; the client then upgrades an HTTP/1.1
// request on that URL to SPDY/3.1 or WebSocket and speaks Kubernetes'
// remotecommand or portforward protocol over it. The server runs on its own
// threads and calls the Backend (backend.h) for the runtime work.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/api.pb.h"
#include "streaming/backend.h"

namespace crius::streaming {

struct ServerOptions {
  std::string address = "127.0.0.1";  // IPv6 literal without brackets is fine
  int port = 0;                       // 0: the kernel picks one
  std::string tls_cert_file;          // both set: HTTPS (URLs say https://)
  std::string tls_key_file;
  absl::Duration token_ttl = absl::Minutes(1);
  size_t max_tokens = 1000;  // outstanding; past it the RPC is RESOURCE_EXHAUSTED
  absl::Duration idle_timeout = absl::Hours(4);
  absl::Duration stream_creation_timeout = absl::Seconds(30);
};

class Server {
 public:
  // Binds and starts serving; `backend` must outlive the server.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                                       Backend* backend);
  virtual ~Server() = default;

  // Each mints a token for the request and returns its absolute URL
  // ("http://127.0.0.1:<port>/exec/<token>", /attach/, /portforward/).
  virtual absl::StatusOr<std::string> ExecUrl(const runtime::v1::ExecRequest& req) = 0;
  virtual absl::StatusOr<std::string> AttachUrl(const runtime::v1::AttachRequest& req) = 0;
  virtual absl::StatusOr<std::string> PortForwardUrl(const runtime::v1::PortForwardRequest& req) = 0;

  // "http://127.0.0.1:<port>" (https with TLS), the bound address.
  virtual std::string BaseUrl() const = 0;

  // Stops accepting, cancels every session and joins the threads.
  virtual void Stop() = 0;
};

}  // namespace crius::streaming
