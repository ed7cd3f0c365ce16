// TLS: a registry serving HTTPS with a self-signed certificate, trusted
// through a per-host CA file or skipped for an insecure host; and an
// insecure host that only speaks plain HTTP.
#include "common/exec.h"
#include "gtest/gtest.h"
#include "image/http.h"
#include "image/registry_client.h"
#include "test/support/registry_fixture.h"
#include "test/unit/common/temp_dir.h"
#include "test/unit/image_registry/test_util.h"

namespace crius::image {
namespace {

using crius::testing::BuiltImage;
using crius::testing::RegistryFixture;
using crius::testing::RegistryOptions;
using test::StringSink;

class TlsTest : public ::testing::Test {
 protected:
  void Start(bool tls) {
    RegistryOptions o;
    o.tls = tls;
    absl::StatusOr<std::unique_ptr<RegistryFixture>> r = RegistryFixture::Start(o);
    ASSERT_TRUE(r.ok()) << r.status();
    registry_ = std::move(*r);
    absl::StatusOr<BuiltImage> img = test::SmallImage();
    ASSERT_TRUE(img.ok()) << img.status();
    image_ = std::move(*img);
    ASSERT_TRUE(registry_->Push(image_, "tls/app:v1").ok());
  }

  absl::Status Pull(const RegistryHostConfig& host) {
    RegistryConfig config;
    config.hosts.push_back(host);
    RegistryClient client(config);
    Reference ref = registry_->Ref("tls/app:v1");
    absl::StatusOr<FetchedManifest> m = client.GetManifest(ref, {});
    if (!m.ok()) return m.status();
    StringSink sink;
    return client.FetchBlob(ref, image_.layers[0].digest, image_.layers[0].size(), {}, sink);
  }

  std::unique_ptr<RegistryFixture> registry_;
  BuiltImage image_;
};

TEST_F(TlsTest, CaFileMakesTheRegistryTrusted) {
  Start(true);
  absl::Status s = Pull(RegistryHostConfig{registry_->host(), {}, false, registry_->ca_file()});
  EXPECT_TRUE(s.ok()) << s;
}

TEST_F(TlsTest, NegotiatesHttp2OverTls) {
  Start(true);
  HttpRequest req;
  req.url = registry_->url() + "/v2/";
  req.ca_file = registry_->ca_file();
  absl::StatusOr<HttpResponse> resp = HttpDo(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->http_version, 2);
}

TEST_F(TlsTest, UntrustedCertificateIsRefused) {
  Start(true);
  // A CA file holding some other certificate.
  crius::testing::TempDir dir;
  ExecOptions e;
  e.argv = {"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir.Path("k.pem"),
            "-out", dir.Path("c.pem"), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
            "subjectAltName=IP:127.0.0.1", "-batch"};
  e.env = {"PATH=/usr/bin:/bin"};
  ASSERT_TRUE(ExecChecked(e).ok());
  absl::Status s = Pull(RegistryHostConfig{registry_->host(), {}, false, dir.Path("c.pem")});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_NE(s.message().find("https://" + registry_->host()), absl::string_view::npos) << s;
}

TEST_F(TlsTest, InsecureHostSkipsVerification) {
  Start(true);
  absl::Status s = Pull(RegistryHostConfig{registry_->host(), {}, true, ""});
  EXPECT_TRUE(s.ok()) << s;
}

TEST_F(TlsTest, InsecureHostFallsBackToPlainHttp) {
  Start(false);
  absl::Status s = Pull(RegistryHostConfig{registry_->host(), {}, true, ""});
  EXPECT_TRUE(s.ok()) << s;
}

}  // namespace
}  // namespace crius::image
