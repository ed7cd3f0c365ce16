#pragma once
// One HTTP request over libcurl, the transport of the registry client.
//
// Each call uses its own CURL handle, so concurrent pulls share nothing here;
// curl_global_init runs once for the process. Redirects are never followed by
// curl: the caller sees the 3xx and its absolute target and decides what to
// resend (the registry client must not forward credentials to blob storage
// on another host). A transfer that receives nothing for `progress_timeout`
// is aborted, however long the whole transfer may legitimately take.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crius::image {

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, POST, PUT
  std::string url;
  // "Name: value" lines.
  std::vector<std::string> headers;
  // Sent for POST/PUT (Content-Length is set from it).
  std::string body;

  // TLS: verify the peer against the system CAs, or `ca_file` when set.
  bool verify_tls = true;
  std::string ca_file;

  absl::Duration connect_timeout = absl::Seconds(30);
  // Abort when no byte arrives for this long (whole seconds, at least 1).
  absl::Duration progress_timeout = absl::Seconds(60);

  // Receives the body of a 2xx response chunk by chunk instead of it being
  // collected; an error aborts the transfer and is returned by HttpDo.
  std::function<absl::Status(std::string_view)> on_body;
  // Bytes of body kept in HttpResponse::body (2xx without on_body, and every
  // non-2xx); more is ResourceExhausted for 2xx, silently cut otherwise.
  size_t max_body = size_t{4} << 20;
  std::string user_agent = "crius";
};

struct HttpResponse {
  long status = 0;
  // Names lowercased; values trimmed; in arrival order (last response only).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Absolute target of a 3xx's Location, resolved by curl.
  std::string redirect_url;
  // Bytes handed to on_body.
  uint64_t streamed = 0;
  // 1 for HTTP/1.x, 2 for HTTP/2 (negotiated over TLS when both sides can).
  int http_version = 1;

  // The first header with this (lowercase) name, or "".
  std::string Header(std::string_view lower_name) const;
};

// Performs the request. An HTTP error status is still OK (inspect
// `status`); errors are transport failures, mapped to canonical codes:
// connection refused / unreachable / DNS -> Unavailable, no progress or
// connect timeout -> DeadlineExceeded ("no progress for 2s"), TLS failures
// -> Unavailable, on_body's own error as returned. Messages name the method
// and the URL (with any userinfo removed).
absl::StatusOr<HttpResponse> HttpDo(const HttpRequest& request);

// The URL with "user:pass@" removed, for messages and logs.
std::string RedactUrl(std::string_view url);

// scheme://host[:port] of an absolute URL, lowercased, with the scheme's
// default port made explicit, so two spellings of one origin compare equal.
// "" when `url` cannot be parsed.
std::string UrlOrigin(std::string_view url);

// Percent-encodes a query parameter value.
std::string UrlEscape(std::string_view s);

// Standard base64 (with padding) encode / decode. Decode fails on bad input.
std::string Base64Encode(std::string_view data);
absl::StatusOr<std::string> Base64Decode(std::string_view data);

}  // namespace crius::image
