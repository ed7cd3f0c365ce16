#include "test/support/registry_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdlib.h>

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/exec.h"
#include "common/files.h"
#include "common/status.h"
#include "common/strings.h"
#include "gtest/gtest.h"
#include "image/digest.h"
#include "image/registry_auth.h"
#include "nlohmann/json.hpp"

namespace crius::testing {
namespace {

constexpr const char* kRegistryBinary = "/usr/bin/docker-registry";
constexpr const char* kService = "crius-test-registry";
constexpr const char* kIssuer = "crius-test-token-issuer";
constexpr int kPortAttempts = 5;
constexpr absl::Duration kStartTimeout = absl::Seconds(30);

std::string FormValue(const std::string& body, const std::string& name) {
  FakeRequest r;
  r.target = "?" + body;
  return r.Query(name);
}

// A port on 127.0.0.1 that was free a moment ago: the registry must be told
// a fixed port in its config.
absl::StatusOr<int> FreeLoopbackPort() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return ErrnoStatus("bind");
  socklen_t len = sizeof(addr);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) return ErrnoStatus("getsockname");
  return ntohs(addr.sin_port);
}

FakeResponse Json(int status, const nlohmann::json& j) {
  FakeResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = j.dump();
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RegistryFixture>> RegistryFixture::Start(RegistryOptions options) {
  std::unique_ptr<RegistryFixture> f(new RegistryFixture(std::move(options)));
  RETURN_IF_ERROR(f->Init());
  return f;
}

RegistryFixture::~RegistryFixture() {
  if (registry_ && registry_->Running()) {
    // A clean stop first; the Subprocess destructor SIGKILLs it otherwise.
    (void)registry_->Signal(SIGTERM);
    (void)registry_->Wait(absl::Seconds(10));
  }
  registry_.reset();
  token_server_.reset();
  if (!dir_.empty()) (void)RemoveAll(dir_);
}

absl::Status RegistryFixture::Init() {
  const char* base = ::getenv("TMPDIR");
  std::string templ = JoinPath(base && *base ? base : "/tmp", "crius-registry-XXXXXX");
  if (::mkdtemp(templ.data()) == nullptr) return ErrnoStatus("mkdtemp " + templ);
  dir_ = templ;
  RETURN_IF_ERROR(MkdirAll(JoinPath(dir_, "storage")));
  if (options_.auth == RegistryOptions::Auth::kBasic) {
    ASSIGN_OR_RETURN(std::string htpasswd, FindExecutable("htpasswd", {"/usr/bin", "/bin"}));
    ExecOptions e;
    e.argv = {htpasswd, "-Bbn", options_.username, options_.password};
    e.env = {"PATH=/usr/bin:/bin"};
    ASSIGN_OR_RETURN(ExecResult r, ExecChecked(e));
    RETURN_IF_ERROR(WriteFileAtomic(JoinPath(dir_, "htpasswd"), r.stdout_data, 0600));
  } else if (options_.auth == RegistryOptions::Auth::kToken) {
    RETURN_IF_ERROR(StartTokenServer());
  }
  if (options_.tls) RETURN_IF_ERROR(MakeTlsCertificate());
  return Launch();
}

std::string RegistryFixture::ca_file() const { return options_.tls ? JoinPath(dir_, "tls-cert.pem") : ""; }

absl::Status RegistryFixture::MakeTlsCertificate() const {
  ASSIGN_OR_RETURN(std::string openssl, FindExecutable("openssl", {"/usr/bin", "/bin"}));
  ExecOptions e;
  e.argv = {openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", JoinPath(dir_, "tls-key.pem"),
            "-out", ca_file(), "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-batch"};
  e.env = {"PATH=/usr/bin:/bin"};
  return ExecChecked(e).status();
}

absl::Status RegistryFixture::StartTokenServer() {
  ASSIGN_OR_RETURN(TokenIssuer issuer, TokenIssuer::Create(dir_, kIssuer, kService));
  issuer_ = std::move(issuer);
  ASSIGN_OR_RETURN(token_server_,
                   FakeHttpServer::Start([this](const FakeRequest& r) { return HandleTokenRequest(r); }));
  return absl::OkStatus();
}

FakeResponse RegistryFixture::HandleTokenRequest(const FakeRequest& req) const {
  if (req.path != "/token") return Json(404, {{"error", "not found"}});
  std::string subject;
  std::string scope;
  if (req.method == "POST") {
    if (FormValue(req.body, "grant_type") != "refresh_token" ||
        FormValue(req.body, "refresh_token") != options_.identity_token) {
      return Json(401, {{"error", "invalid_grant"}, {"error_description", "bad refresh token"}});
    }
    subject = options_.username;
    scope = FormValue(req.body, "scope");
  } else {
    const std::string want = "Basic " + image::Base64Encode(options_.username + ":" + options_.password);
    if (req.Header("authorization") != want) {
      return Json(401, {{"details", "invalid username or password"}});
    }
    subject = options_.username;
    scope = req.Query("scope");
  }
  std::vector<TokenAccess> access;
  TokenAccess a;
  if (!scope.empty() && ParseScope(scope, &a)) access.push_back(a);
  absl::StatusOr<std::string> token = issuer_->Issue(subject, access, options_.token_lifetime);
  if (!token.ok()) return Json(500, {{"error", std::string(token.status().message())}});
  const int64_t lifetime = absl::ToInt64Seconds(options_.token_lifetime);
  return Json(200, {{"token", *token}, {"access_token", *token}, {"expires_in", lifetime}});
}

absl::Status RegistryFixture::WriteConfig() const {
  std::string cfg = absl::StrCat(
      "version: 0.1\n"
      "log:\n  level: info\n  accesslog:\n    disabled: true\n"
      "storage:\n  filesystem:\n    rootdirectory: ", JoinPath(dir_, "storage"), "\n",
      "  delete:\n    enabled: true\n"
      "  maintenance:\n    uploadpurging:\n      enabled: false\n"
      "http:\n  addr: 127.0.0.1:", port_, "\n  secret: crius-test-secret\n");
  if (options_.tls) {
    absl::StrAppend(&cfg, "  tls:\n    certificate: ", ca_file(), "\n    key: ", JoinPath(dir_, "tls-key.pem"), "\n");
  }
  if (options_.auth == RegistryOptions::Auth::kBasic) {
    absl::StrAppend(&cfg, "auth:\n  htpasswd:\n    realm: crius-test\n    path: ", JoinPath(dir_, "htpasswd"), "\n");
  } else if (options_.auth == RegistryOptions::Auth::kToken) {
    absl::StrAppend(&cfg, "auth:\n  token:\n    realm: ", token_realm(), "\n    service: ", kService,
                    "\n    issuer: ", kIssuer, "\n    rootcertbundle: ", issuer_->cert_path(), "\n");
  }
  return WriteFileAtomic(JoinPath(dir_, "config.yml"), cfg);
}

absl::Status RegistryFixture::Launch() {
  absl::Status last;
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    // The kernel picks a free port; another process may take it before the
    // registry binds, which shows as an early exit and means another try.
    ASSIGN_OR_RETURN(port_, FreeLoopbackPort());
    RETURN_IF_ERROR(WriteConfig());
    const std::string log = JoinPath(dir_, "registry.log");
    SubprocessOptions so;
    so.argv = {kRegistryBinary, "serve", JoinPath(dir_, "config.yml")};
    so.env = {"PATH=/usr/bin:/bin", "HOME=" + dir_};
    so.stdout_path = log;
    so.stderr_path = log;
    so.new_session = true;
    ASSIGN_OR_RETURN(Subprocess proc, Subprocess::Start(so));
    registry_.emplace(std::move(proc));
    const absl::Time deadline = absl::Now() + kStartTimeout;
    while (absl::Now() < deadline && registry_->Running()) {
      image::HttpRequest req;
      req.url = url() + "/v2/";
      req.ca_file = ca_file();
      req.connect_timeout = absl::Seconds(1);
      req.progress_timeout = absl::Seconds(2);
      absl::StatusOr<image::HttpResponse> resp = image::HttpDo(req);
      if (resp.ok() && (resp->status == 200 || resp->status == 401)) return absl::OkStatus();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const bool exited = !registry_->Running();
    registry_.reset();
    last = absl::UnavailableError(absl::StrCat("registry on port ", port_,
                                               exited ? " exited" : " did not answer in time", ": ", Log()));
    if (!exited || !absl::StrContains(Log(), "address already in use")) return last;
  }
  return last;
}

std::string RegistryFixture::Log() const {
  absl::StatusOr<std::string> log = ReadFile(JoinPath(dir_, "registry.log"));
  if (!log.ok()) return "(no log)";
  return log->size() > 4000 ? log->substr(log->size() - 4000) : *log;
}

image::Reference RegistryFixture::Ref(std::string_view repo_ref) const {
  absl::StatusOr<image::Reference> ref = image::ParseReference(host() + "/" + std::string(repo_ref));
  EXPECT_TRUE(ref.ok()) << ref.status();
  return ref.ok() ? *ref : image::Reference{};
}

absl::StatusOr<image::HttpResponse> RegistryFixture::Send(image::HttpRequest req, const std::string& repo) {
  const std::vector<std::string> base_headers = req.headers;
  req.ca_file = ca_file();
  for (int attempt = 0; attempt < 3; ++attempt) {
    req.headers = base_headers;
    if (!authorization_.empty()) req.headers.push_back("Authorization: " + authorization_);
    ASSIGN_OR_RETURN(image::HttpResponse resp, image::HttpDo(req));
    if (resp.status != 401 || options_.auth == RegistryOptions::Auth::kNone) return resp;
    image::Credentials creds;
    creds.username = options_.username;
    creds.password = options_.password;
    ASSIGN_OR_RETURN(image::AuthAnswer answer,
                     image::AnswerChallenge(image::ParseWwwAuthenticate(resp.Header("www-authenticate")),
                                            "repository:" + repo + ":pull,push", creds, image::AuthTransport{}));
    authorization_ = answer.authorization;
  }
  return absl::UnauthenticatedError("push: still unauthorized after authenticating");
}

absl::StatusOr<std::string> RegistryFixture::PushBusybox(std::string_view repo_tag) {
  ASSIGN_OR_RETURN(std::vector<TarEntry> rootfs, BusyboxRootfs());
  ASSIGN_OR_RETURN(BuiltImage img,
                   ImageBuilder().AddLayer(rootfs, Compression::kGzip).Cmd({"/bin/sh"}).Build());
  RETURN_IF_ERROR(Push(img, repo_tag).status());
  return absl::StrCat(host(), "/", AbslView(repo_tag));
}

absl::Status RegistryFixture::PushBlob(const std::string& repo, const Blob& blob) {
  const std::string base = absl::StrCat(url(), "/v2/", repo, "/blobs/");
  image::HttpRequest head;
  head.method = "HEAD";
  head.url = base + blob.digest;
  ASSIGN_OR_RETURN(image::HttpResponse exists, Send(head, repo));
  if (exists.status == 200) return absl::OkStatus();

  image::HttpRequest start;
  start.method = "POST";
  start.url = base + "uploads/";
  ASSIGN_OR_RETURN(image::HttpResponse started, Send(start, repo));
  std::string location = started.Header("location");
  if (started.status != 202 || location.empty()) {
    return absl::InternalError(absl::StrCat("start upload: HTTP ", started.status, ": ", started.body));
  }
  if (location.front() == '/') location = url() + location;
  image::HttpRequest put;
  put.method = "PUT";
  put.url = absl::StrCat(location, absl::StrContains(location, "?") ? "&" : "?", "digest=",
                         image::UrlEscape(blob.digest));
  put.headers = {"Content-Type: application/octet-stream"};
  put.body = blob.data;
  ASSIGN_OR_RETURN(image::HttpResponse done, Send(put, repo));
  if (done.status != 201) {
    return absl::InternalError(absl::StrCat("upload ", blob.digest, ": HTTP ", done.status, ": ", done.body));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RegistryFixture::PushManifest(const std::string& repo, const std::string& tag_or_digest,
                                                          const Blob& manifest) {
  image::HttpRequest put;
  put.method = "PUT";
  put.url = absl::StrCat(url(), "/v2/", repo, "/manifests/", tag_or_digest);
  put.headers = {"Content-Type: " + manifest.media_type};
  put.body = manifest.data;
  ASSIGN_OR_RETURN(image::HttpResponse resp, Send(put, repo));
  if (resp.status != 201) {
    return absl::InternalError(absl::StrCat("put manifest ", repo, ":", tag_or_digest, ": HTTP ", resp.status,
                                            ": ", resp.body));
  }
  return resp.Header("docker-content-digest");
}

namespace {
void SplitRepoTag(std::string_view repo_tag, std::string* repo, std::string* tag) {
  size_t colon = repo_tag.rfind(':');
  size_t slash = repo_tag.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    *repo = std::string(repo_tag.substr(0, colon));
    *tag = std::string(repo_tag.substr(colon + 1));
  } else {
    *repo = std::string(repo_tag);
    tag->clear();
  }
}
}  // namespace

absl::StatusOr<PushResult> RegistryFixture::Push(const BuiltImage& image, std::string_view repo_tag) {
  std::string repo, tag;
  SplitRepoTag(repo_tag, &repo, &tag);
  for (const Blob& layer : image.layers) RETURN_IF_ERROR(PushBlob(repo, layer));
  RETURN_IF_ERROR(PushBlob(repo, image.config));
  ASSIGN_OR_RETURN(std::string digest, PushManifest(repo, tag.empty() ? image.manifest.digest : tag, image.manifest));
  if (digest != image.manifest.digest) {
    return absl::InternalError(absl::StrCat("registry stored manifest as ", digest, ", built ", image.manifest.digest));
  }
  return PushResult{digest, image.config.digest};
}

absl::StatusOr<std::string> RegistryFixture::PushIndex(const BuiltIndex& index, std::string_view repo_tag) {
  std::string repo, tag;
  SplitRepoTag(repo_tag, &repo, &tag);
  for (const BuiltImage& img : index.images) RETURN_IF_ERROR(Push(img, repo).status());
  return PushManifest(repo, tag.empty() ? index.index.digest : tag, index.index);
}

std::string RegistryFixture::BlobDataPath(const std::string& digest) const {
  std::string_view hex = image::DigestHex(digest);
  return JoinPath(dir_, "storage/docker/registry/v2/blobs", digest.substr(0, digest.find(':')),
                  std::string(hex.substr(0, 2)), std::string(hex), "data");
}

absl::Status RegistryFixture::CorruptBlob(const std::string& digest) const {
  const std::string path = BlobDataPath(digest);
  ASSIGN_OR_RETURN(std::string data, ReadFile(path));
  if (data.empty()) return absl::FailedPreconditionError("cannot corrupt an empty blob");
  for (char& c : data) c = static_cast<char>(~c);
  return WriteFileAtomic(path, data);
}

}  // namespace crius::testing
