#include "image/registry_client.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/strings.h"
#include "image/digest.h"
#include "image/media_types.h"
#include "nlohmann/json.hpp"

namespace crius::image {

// One place a repository can be fetched from.
struct RegistryClient::Endpoint {
  // Base URLs tried in order while they fail to connect (https, then http
  // for an insecure host).
  std::vector<std::string> bases;
  bool mirror = false;
  bool verify_tls = true;
  std::string ca_file;
};

// What to fetch and how to receive it.
struct RegistryClient::FetchSpec {
  std::string suffix;  // "/manifests/<ref>" or "/blobs/<digest>"
  std::string what;    // "manifest" / "blob", for NotFound messages
  std::vector<std::string> headers;
  std::function<absl::Status(std::string_view)> on_body;
  size_t max_body = size_t{4} << 20;
  // Counts bytes handed to on_body; once any were, no other endpoint may be
  // tried, because the sink already holds them.
  const uint64_t* streamed = nullptr;
};

namespace {

constexpr int kMaxRedirects = 10;

bool IsLoopbackHost(std::string_view domain) {
  std::string_view host = domain;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') - 1);
    return host == "::1";
  }
  host = host.substr(0, host.find(':'));
  return host == "localhost" || host.substr(0, 4) == "127.";
}

std::string NormalizeHost(std::string_view host) {
  std::string h = absl::AsciiStrToLower(AbslView(host));
  if (h == "index.docker.io" || h == "registry-1.docker.io") h = "docker.io";
  return h;
}

std::string TrimSlash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// "<code>: <message>" of the first error in a registry's JSON error body.
std::string RegistryMessage(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    auto errors = j.find("errors");
    if (errors != j.end() && errors->is_array() && !errors->empty() && (*errors)[0].is_object()) {
      const auto& e = (*errors)[0];
      std::string code = e.value("code", std::string());
      std::string message = e.value("message", std::string());
      if (!code.empty() || !message.empty()) {
        return absl::AsciiStrToLower(code) + (message.empty() ? "" : ": " + message);
      }
    }
  }
  return body.substr(0, 200);
}

absl::Status StatusFromResponse(const HttpResponse& resp, const std::string& url, std::string_view what) {
  std::string detail = RegistryMessage(resp.body);
  std::string where = absl::StrCat("GET ", RedactUrl(url), ": HTTP ", resp.status);
  if (!detail.empty()) absl::StrAppend(&where, ": ", detail);
  switch (resp.status) {
    case 401:
      return absl::UnauthenticatedError(where);
    case 403:
      return absl::PermissionDeniedError(where);
    case 404:
      return absl::NotFoundError(absl::StrCat(AbslView(what), " unknown: ", where));
    case 429:
      return absl::ResourceExhaustedError(where);
    default:
      if (resp.status >= 500) return absl::UnavailableError(where);
      return absl::UnknownError(where);
  }
}

bool IsRedirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// Transport failures and answers that mean "this mirror cannot serve it".
bool MirrorShouldFallThrough(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) || absl::IsNotFound(s) ||
         absl::IsUnauthenticated(s) || absl::IsPermissionDenied(s) || absl::IsUnknown(s) ||
         absl::IsResourceExhausted(s);
}

std::string MediaTypeOf(const HttpResponse& resp, const nlohmann::json& j) {
  std::string ct = resp.Header("content-type");
  ct = std::string(absl::StripAsciiWhitespace(ct.substr(0, ct.find(';'))));
  if (IsIndexMediaType(ct) || IsImageManifestMediaType(ct) || IsSchema1MediaType(ct)) return ct;
  // Some registries send application/json: fall back to the document.
  if (j.is_object()) {
    if (auto mt = j.find("mediaType"); mt != j.end() && mt->is_string()) return mt->get<std::string>();
    if (auto v = j.find("schemaVersion"); v != j.end() && *v == 1) return std::string(kDockerSchema1Manifest);
    if (j.contains("manifests")) return std::string(kOciIndex);
    if (j.contains("config") && j.contains("layers")) return std::string(kOciManifest);
  }
  return ct;
}

}  // namespace

RegistryClient::RegistryClient(RegistryConfig config)
    : config_(std::move(config)), tokens_(std::make_unique<TokenCache>()) {}

std::vector<RegistryClient::Endpoint> RegistryClient::EndpointsFor(std::string_view domain) const {
  const std::string host = NormalizeHost(domain);
  const RegistryHostConfig* hc = nullptr;
  for (const RegistryHostConfig& c : config_.hosts) {
    if (NormalizeHost(c.host) == host) hc = &c;
  }
  std::vector<Endpoint> out;
  const bool insecure = hc != nullptr && hc->insecure;
  const std::string ca_file = hc != nullptr ? hc->ca_file : "";
  if (hc != nullptr) {
    for (const std::string& m : hc->mirrors) out.push_back(Endpoint{{TrimSlash(m)}, true, !insecure, ca_file});
  }
  const std::string api_host = host == "docker.io" ? "registry-1.docker.io" : std::string(domain);
  Endpoint self{{}, false, !insecure, ca_file};
  if (IsLoopbackHost(api_host) && ca_file.empty() && !insecure) {
    // A registry on this machine is reached without TLS unless the host is
    // configured with a CA (then HTTPS) or as insecure (HTTPS, then HTTP).
    self.bases = {"http://" + api_host};
  } else if (insecure) {
    self.bases = {"https://" + api_host, "http://" + api_host};
  } else {
    self.bases = {"https://" + api_host};
  }
  out.push_back(std::move(self));
  return out;
}

absl::StatusOr<Credentials> RegistryClient::ResolveCredentials(std::string_view domain,
                                                               const Credentials& given) const {
  Credentials creds = given;
  if (creds.empty() && !config_.auth_file.empty()) {
    ASSIGN_OR_RETURN(creds, LookupAuthFile(config_.auth_file, domain));
  }
  RETURN_IF_ERROR(NormalizeCredentials(&creds));
  return creds;
}

absl::StatusOr<HttpResponse> RegistryClient::SendFollowingRedirects(const Endpoint& ep,
                                                                    const std::string& url,
                                                                    const std::string& authorization,
                                                                    const FetchSpec& spec) const {
  const std::string origin = UrlOrigin(url);
  std::string current = url;
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    HttpRequest req;
    req.url = current;
    req.headers = spec.headers;
    const bool same_origin = UrlOrigin(current) == origin;
    // Credentials belong to the registry: a redirect to blob storage on
    // another host gets none (and its own CA trust, not the registry's).
    if (same_origin && !authorization.empty()) req.headers.push_back("Authorization: " + authorization);
    req.verify_tls = ep.verify_tls;
    if (same_origin) req.ca_file = ep.ca_file;
    req.connect_timeout = config_.connect_timeout;
    req.progress_timeout = config_.progress_timeout;
    req.on_body = spec.on_body;
    req.max_body = spec.max_body;
    req.user_agent = config_.user_agent;
    ASSIGN_OR_RETURN(HttpResponse resp, HttpDo(req));
    if (!IsRedirect(resp.status) || resp.redirect_url.empty()) return resp;
    current = resp.redirect_url;
  }
  return absl::UnavailableError(absl::StrCat("GET ", RedactUrl(url), ": more than ", kMaxRedirects, " redirects"));
}

absl::StatusOr<HttpResponse> RegistryClient::FetchFrom(const Endpoint& ep, const std::string& base,
                                                       const Reference& repo, const FetchSpec& spec,
                                                       const Credentials& creds) const {
  const std::string url = absl::StrCat(base, "/v2/", repo.path, spec.suffix);
  const std::string scope = absl::StrCat("repository:", repo.path, ":pull");
  const std::string cache_key = absl::StrCat(UrlOrigin(url), "|", scope, "|", CredentialsKey(creds));

  std::string authorization;
  if (!creds.registry_token.empty()) {
    authorization = "Bearer " + creds.registry_token;
  } else if (std::optional<std::string> cached = tokens_->Get(cache_key)) {
    authorization = *cached;
  }
  ASSIGN_OR_RETURN(HttpResponse resp, SendFollowingRedirects(ep, url, authorization, spec));
  if (resp.status != 401 || !creds.registry_token.empty()) return resp;

  // Challenged: a cached answer (if any) is stale; get a fresh one and retry once.
  tokens_->Erase(cache_key);
  std::vector<Challenge> challenges = ParseWwwAuthenticate(resp.Header("www-authenticate"));
  if (challenges.empty()) return resp;
  AuthTransport transport{ep.verify_tls,           ep.ca_file,          UrlOrigin(url),
                          config_.connect_timeout, config_.progress_timeout, config_.user_agent};
  absl::StatusOr<AuthAnswer> answer = AnswerChallenge(challenges, scope, creds, transport);
  if (!answer.ok()) return Annotate(answer.status(), absl::StrCat("GET ", RedactUrl(url)));
  tokens_->Put(cache_key, *answer);
  return SendFollowingRedirects(ep, url, answer->authorization, spec);
}

absl::StatusOr<HttpResponse> RegistryClient::Fetch(const Reference& repo, const FetchSpec& spec,
                                                   const Credentials& given) const {
  ASSIGN_OR_RETURN(Credentials creds, ResolveCredentials(repo.domain, given));
  absl::Status last = absl::UnavailableError("no endpoint to try");
  for (const Endpoint& ep : EndpointsFor(repo.domain)) {
    for (const std::string& base : ep.bases) {
      const std::string url = absl::StrCat(base, "/v2/", repo.path, spec.suffix);
      absl::StatusOr<HttpResponse> resp = FetchFrom(ep, base, repo, spec, creds);
      const bool streamed = spec.streamed != nullptr && *spec.streamed > 0;
      if (resp.ok() && resp->status >= 200 && resp->status < 300) return resp;
      last = resp.ok() ? StatusFromResponse(*resp, url, spec.what) : resp.status();
      if (streamed) return last;
      // Only a connection-level failure moves on to the next scheme of the
      // same endpoint; an HTTP answer is that endpoint's final word.
      if (resp.ok()) break;
    }
    if (ep.mirror && MirrorShouldFallThrough(last)) continue;
    if (!ep.mirror) break;
    return last;
  }
  return last;
}

absl::StatusOr<FetchedManifest> RegistryClient::FetchManifest(const Reference& repo,
                                                              std::string_view reference,
                                                              std::string_view want_digest,
                                                              const Credentials& creds) const {
  FetchSpec spec;
  spec.suffix = absl::StrCat("/manifests/", AbslView(reference));
  spec.what = "manifest";
  spec.max_body = config_.max_manifest_bytes;
  spec.headers.push_back(absl::StrCat("Accept: ", AbslView(kOciManifest), ", ", AbslView(kOciIndex), ", ",
                                      AbslView(kDockerManifest), ", ", AbslView(kDockerManifestList)));
  ASSIGN_OR_RETURN(HttpResponse resp, Fetch(repo, spec, creds));

  const std::string where = absl::StrCat("manifest ", repo.Name(), "/", AbslView(reference));
  nlohmann::json doc = nlohmann::json::parse(resp.body, nullptr, false);
  FetchedManifest out;
  out.media_type = MediaTypeOf(resp, doc);
  if (IsSchema1MediaType(out.media_type)) {
    return absl::FailedPreconditionError(
        absl::StrCat(where, ": schema 1 manifests are not supported; push the image again with a current client"));
  }
  if (!IsIndexMediaType(out.media_type) && !IsImageManifestMediaType(out.media_type)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": unsupported manifest media type \"", out.media_type, "\""));
  }
  // Hash in the algorithm of the digest we check against (sha512-pinned
  // references work too); sha256 otherwise.
  ASSIGN_OR_RETURN(Digester d, want_digest.empty() ? Digester::Create("sha256")
                                                   : Digester::ForDigest(want_digest));
  d.Update(resp.body);
  out.digest = d.Finish();
  if (!want_digest.empty() && out.digest != want_digest) {
    return absl::DataLossError(absl::StrCat(where, ": digest mismatch: content has ", out.digest));
  }
  std::string header_digest = resp.Header("docker-content-digest");
  if (!header_digest.empty() && ValidateDigest(header_digest).ok() &&
      header_digest.substr(0, header_digest.find(':')) == out.digest.substr(0, out.digest.find(':')) &&
      header_digest != out.digest) {
    return absl::DataLossError(absl::StrCat(where, ": digest mismatch: registry says ", header_digest,
                                            ", content has ", out.digest));
  }
  out.bytes = std::move(resp.body);
  return out;
}

absl::StatusOr<FetchedManifest> RegistryClient::GetManifest(const Reference& ref,
                                                            const Credentials& creds) const {
  if (!ref.digest.empty()) return FetchManifest(ref, ref.digest, ref.digest, creds);
  if (ref.tag.empty()) return absl::InvalidArgumentError(absl::StrCat(ref.Name(), ": neither tag nor digest"));
  return FetchManifest(ref, ref.tag, "", creds);
}

absl::StatusOr<FetchedManifest> RegistryClient::GetManifestByDigest(const Reference& repo,
                                                                    std::string_view digest,
                                                                    const Credentials& creds) const {
  RETURN_IF_ERROR(ValidateDigest(digest));
  return FetchManifest(repo, digest, digest, creds);
}

absl::Status RegistryClient::FetchBlob(const Reference& repo, const std::string& digest,
                                       int64_t expected_size, const Credentials& creds,
                                       BlobWriter& sink) const {
  ASSIGN_OR_RETURN(Digester hasher, Digester::ForDigest(digest));
  const std::string where = absl::StrCat("blob ", repo.Name(), "@", digest);
  uint64_t received = 0;
  FetchSpec spec;
  spec.suffix = "/blobs/" + digest;
  spec.what = "blob";
  spec.streamed = &received;
  spec.on_body = [&](std::string_view chunk) -> absl::Status {
    received += chunk.size();
    if (expected_size >= 0 && received > static_cast<uint64_t>(expected_size)) {
      return absl::DataLossError(
          absl::StrCat(where, ": size mismatch: more than the expected ", expected_size, " bytes"));
    }
    hasher.Update(chunk);
    return sink.Write(chunk);
  };
  ASSIGN_OR_RETURN(HttpResponse resp, Fetch(repo, spec, creds));
  (void)resp;
  if (expected_size >= 0 && received != static_cast<uint64_t>(expected_size)) {
    return absl::DataLossError(
        absl::StrCat(where, ": size mismatch: got ", received, " bytes, want ", expected_size));
  }
  std::string got = hasher.Finish();
  if (got != digest) return absl::DataLossError(absl::StrCat(where, ": digest mismatch: content has ", got));
  return absl::OkStatus();
}

namespace {
class StringWriter : public BlobWriter {
 public:
  StringWriter(std::string* out, size_t max) : out_(out), max_(max) {}
  absl::Status Write(std::string_view chunk) override {
    if (out_->size() + chunk.size() > max_) {
      return absl::ResourceExhaustedError(absl::StrCat("blob larger than ", max_, " bytes"));
    }
    out_->append(chunk);
    return absl::OkStatus();
  }

 private:
  std::string* out_;
  size_t max_;
};
}  // namespace

absl::StatusOr<std::string> RegistryClient::FetchBlobToString(const Reference& repo,
                                                              const std::string& digest,
                                                              int64_t expected_size,
                                                              const Credentials& creds,
                                                              size_t max_size) const {
  if (expected_size >= 0 && static_cast<uint64_t>(expected_size) > max_size) {
    return absl::ResourceExhaustedError(
        absl::StrCat("blob ", digest, " is ", expected_size, " bytes, more than the ", max_size, " allowed"));
  }
  std::string out;
  StringWriter w(&out, max_size);
  RETURN_IF_ERROR(FetchBlob(repo, digest, expected_size, creds, w));
  return out;
}

}  // namespace crius::image
