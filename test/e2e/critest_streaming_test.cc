// The streaming specs of cri-tools' validation suite (critest, "[k8s.io]
// Streaming"), mirrored against a real criusd because critest itself is not
// installable here. Each spec keeps critest's set-up and check:
//   runtime should support exec with tty=false  -> ExecWithTtyFalse
//   runtime should support exec with tty=true   -> ExecWithTtyTrue
//   runtime should support attach               -> Attach (and AttachWithTty)
//   runtime should support portforward          -> PortForward (pod network, port mapping)
//   runtime should support portforward in host network -> PortForwardInHostNetwork
// critest drives the URLs with client-go (SPDY); here the criusctl binary
// drives them, once per transport (`--transport spdy|websocket`), so these
// are also criusctl's end-to-end tests. Clients we did not write are
// streaming_interop_test.cc's.

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/exec.h"
#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "test/e2e/container_util.h"
#include "test/e2e/sandbox_util.h"
#include "test/support/http_get.h"

namespace crius::testing {
namespace {

namespace rt = runtime::v1;
using ::testing::HasSubstr;

const std::string kCriusctl = CRIUS_BINARY_DIR "/client/criusctl";

struct CtlRun {
  int code = -1;
  std::string out;
  std::string err;
};

class CritestStreaming : public ContainerE2E, public ::testing::WithParamInterface<std::string> {
 public:
  using ContainerE2E::Create;
  using ContainerE2E::Start;

  // `criusctl -r <daemon> CMD --transport <param> ARGS...` to its end, with
  // `input` as its stdin.
  CtlRun Ctl(const std::string& cmd, std::vector<std::string> args, const std::string& input = "") {
    ExecOptions o;
    o.argv = {kCriusctl, "-r", d_.endpoint(), cmd, "--transport", GetParam()};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = {"PATH=/usr/bin:/bin"};
    o.stdin_data = input;
    o.timeout = absl::Seconds(60);
    auto r = ::crius::Exec(o);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    return {r->exit_code, r->stdout_data, r->stderr_data};
  }

  // critest's default container: it just stays running.
  std::string DefaultContainer(const std::string& name) {
    auto id = Create(name, {"/bin/sleep", "86400"});
    EXPECT_TRUE(id.ok()) << id.status() << d_.Log();
    if (!id.ok()) return "";
    EXPECT_TRUE(Start(*id).ok()) << d_.Log();
    return *id;
  }

  // critest's checkPortForward: a local port forwarded to `remote` in the
  // pod, then an HTTP GET of that local port must return the page.
  void CheckPortForward(int remote, const std::string& body) {
    auto local = PickFreePort();
    ASSERT_TRUE(local.ok()) << local.status();
    const std::string err_file = d_.dir() + "/port-forward-" + GetParam() + ".err";
    SubprocessOptions so;
    so.argv = {kCriusctl,     "-r",       d_.endpoint(), "port-forward",
               "--transport", GetParam(), pod_id_,       absl::StrCat(*local, ":", remote)};
    so.env = {"PATH=/usr/bin:/bin"};
    so.stdout_path = "/dev/null";
    so.stderr_path = err_file;
    auto ctl = Subprocess::Start(so);
    ASSERT_TRUE(ctl.ok()) << ctl.status();
    std::string page;
    bool served = WaitUntil([&] {
      auto got = HttpGet("127.0.0.1", *local, "/");
      if (!got.ok()) return !ctl->Running();  // not listening yet, unless it died
      page = *got;
      return true;
    });
    ASSERT_TRUE(ctl->Signal(SIGTERM).ok());
    auto status = ctl->Wait(absl::Seconds(30));
    auto err = ReadFile(err_file);
    std::string diagnostics = err.ok() ? *err : "";
    ASSERT_TRUE(served) << diagnostics << d_.Log();
    EXPECT_THAT(page, HasSubstr(" 200 ")) << page << diagnostics;
    EXPECT_THAT(page, HasSubstr(body)) << page << diagnostics;
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_EQ(*status, 0) << DescribeWaitStatus(*status) << diagnostics;
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, CritestStreaming, ::testing::Values("spdy", "websocket"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// critest: exec `echo -n hello` (stdout only), stdout exactly "hello".
TEST_P(CritestStreaming, ExecWithTtyFalse) {
  const std::string id = DefaultContainer("container-for-exec-test");
  ASSERT_FALSE(id.empty());
  CtlRun r = Ctl("exec", {id, "echo", "-n", "hello"});
  EXPECT_EQ(r.code, 0) << r.err << d_.Log();
  EXPECT_EQ(r.out, "hello");
  EXPECT_EQ(r.err, "");
}

TEST_P(CritestStreaming, ExecWithTtyTrue) {
  const std::string id = DefaultContainer("container-for-exec-tty-test");
  ASSERT_FALSE(id.empty());
  CtlRun r = Ctl("exec", {"-t", id, "echo", "-n", "hello"});
  EXPECT_EQ(r.code, 0) << r.err << d_.Log();
  EXPECT_EQ(r.out, "hello");
}

// A non-zero exit code becomes criusctl's own, as over SPDY (not a critest
// spec; kubectl relies on it).
TEST_P(CritestStreaming, ExecExitCodeIsCriusctlsExitCode) {
  const std::string id = DefaultContainer("container-for-exit-test");
  ASSERT_FALSE(id.empty());
  CtlRun r = Ctl("exec", {id, "sh", "-c", "echo oops >&2; exit 7"});
  EXPECT_EQ(r.code, 7) << r.err << d_.Log();
  EXPECT_EQ(r.err, "oops\n");
  CtlRun in = Ctl("exec", {"-i", id, "cat"}, "through stdin\n");
  EXPECT_EQ(in.code, 0) << in.err << d_.Log();
  EXPECT_EQ(in.out, "through stdin\n");
}

// critest: a container running `sh` with stdin open; attach, type `echo
// hello`, see hello. The input ends with `exit` so the shell (and with it
// the session) ends whether or not the runtime passes the client's EOF on.
// Returns what criusctl printed.
std::string AttachToShell(CritestStreaming& t, bool tty) {
  auto id = t.Create(tty ? "container-for-attach-tty-test" : "container-for-attach-test", {"sh"},
                     [tty](rt::ContainerConfig& c) {
                       c.set_stdin(true);
                       c.set_stdin_once(true);
                       c.set_tty(tty);
                     });
  EXPECT_TRUE(id.ok()) << id.status();
  if (!id.ok() || !t.Start(*id).ok()) return "<not started>";
  std::vector<std::string> args = {"-i", *id};
  if (tty) args.insert(args.begin(), "-t");
  CtlRun r = t.Ctl("attach", args, "echo hello\nexit\n");
  EXPECT_EQ(r.code, 0) << r.err;
  return r.out;
}

TEST_P(CritestStreaming, Attach) { EXPECT_EQ(AttachToShell(*this, false), "hello\n"); }

TEST_P(CritestStreaming, AttachWithTty) {
  // The terminal echoes the input: "echo hello" comes back, then "hello".
  EXPECT_THAT(AttachToShell(*this, true), HasSubstr("hello\r\n"));
}

// critest: a host-network pod with a web server on a host port, forwarded.
TEST_P(CritestStreaming, PortForwardInHostNetwork) {
  auto port = PickFreePort();
  ASSERT_TRUE(port.ok()) << port.status();
  const std::string body = "critest-host-net-" + RandomHex(6);
  StartHttpd(pod_id_, pod_config_, *port, body);
  CheckPortForward(*port, body);
}

// critest: a pod on the pod network with a port mapping of the web server's
// container port, forwarded.
class CritestStreamingPodNetwork : public CritestStreaming {
 protected:
  static constexpr int kWebServerPort = 80;
  void SetUp() override {
    if (!CanRunPodNetworkTests()) GTEST_SKIP() << "needs root, the CNI plugins, ip and nsenter";
    ASSERT_TRUE(net_.subnet().ok());
    CritestStreaming::SetUp();
  }
  void EditPod(rt::PodSandboxConfig& c) override {
    c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
        rt::POD);
    c.set_hostname("critest-" + RandomHex(6));
    auto* mapping = c.add_port_mappings();
    mapping->set_protocol(rt::TCP);
    mapping->set_container_port(kWebServerPort);
    EXPECT_TRUE(WaitNetworkReady(d_.client())) << d_.Log();
  }
  BridgeNetwork net_{d_};
};

INSTANTIATE_TEST_SUITE_P(Transports, CritestStreamingPodNetwork,
                         ::testing::Values("spdy", "websocket"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST_P(CritestStreamingPodNetwork, PortForward) {
  const std::string body = "critest-pod-net-" + RandomHex(6);
  StartHttpd(pod_id_, pod_config_, kWebServerPort, body);
  CheckPortForward(kWebServerPort, body);
}

}  // namespace
}  // namespace crius::testing
