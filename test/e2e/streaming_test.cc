// The streaming RPCs through the real daemon: Exec, Attach and PortForward
// refuse what cannot be streamed to (unknown ids NOT_FOUND, a container that
// is not running FAILED_PRECONDITION) and otherwise answer absolute,
// single-use URLs on the daemon's own streaming server, whose base the
// verbose Status reports. Then the sessions themselves, through our own
// SPDY client (streaming/client.h): exec output, stdin, exit codes and a
// terminal, attach to a container's stdin/stdout, and port-forward into a
// host-network pod. (Clients we did not write are the interop tests'.)

#include <regex>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "gmock/gmock.h"
#include "test/e2e/container_util.h"
#include "streaming/client.h"
#include "test/support/http_get.h"

namespace crius::testing {
namespace {

class StreamingE2E : public ContainerE2E {
 protected:
  absl::StatusOr<std::string> ExecUrl(const std::string& id, std::vector<std::string> cmd) {
    runtime::v1::ExecRequest req;
    req.set_container_id(id);
    for (auto& a : cmd) req.add_cmd(a);
    req.set_stdout(true);
    req.set_stderr(true);
    auto resp = d_.client().Exec(req);
    if (!resp.ok()) return resp.status();
    return resp->url();
  }
  absl::StatusOr<std::string> AttachUrl(const std::string& id) {
    runtime::v1::AttachRequest req;
    req.set_container_id(id);
    req.set_stdout(true);
    auto resp = d_.client().Attach(req);
    if (!resp.ok()) return resp.status();
    return resp->url();
  }
  absl::StatusOr<std::string> PortForwardUrl(const std::string& pod, int32_t port) {
    runtime::v1::PortForwardRequest req;
    req.set_pod_sandbox_id(pod);
    req.add_port(port);
    auto resp = d_.client().PortForward(req);
    if (!resp.ok()) return resp.status();
    return resp->url();
  }
  std::string StreamingBase() {
    auto st = d_.client().Status(/*verbose=*/true);
    EXPECT_TRUE(st.ok()) << st.status();
    if (!st.ok()) return "";
    auto it = st->info().find("streamingURL");
    return it == st->info().end() ? "" : it->second;
  }
};

TEST_F(StreamingE2E, UnknownIdsAreNotFound) {
  EXPECT_TRUE(absl::IsNotFound(ExecUrl("doesnotexist", {"true"}).status()));
  EXPECT_TRUE(absl::IsNotFound(AttachUrl("doesnotexist").status()));
  EXPECT_TRUE(absl::IsNotFound(PortForwardUrl("doesnotexist", 80).status()));
}

TEST_F(StreamingE2E, ContainersThatAreNotRunningAreRefused) {
  auto created = Create("not-started", {"/bin/sleep", "1000"});
  ASSERT_TRUE(created.ok()) << created.status();
  auto s = ExecUrl(*created, {"true"}).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  s = AttachUrl(*created).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;

  auto exited = Create("exited", {"/bin/true"});
  ASSERT_TRUE(exited.ok()) << exited.status();
  ASSERT_TRUE(Start(*exited).ok());
  WaitFor(*exited, runtime::v1::CONTAINER_EXITED);
  s = ExecUrl(*exited, {"true"}).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  s = AttachUrl(*exited).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
}

TEST_F(StreamingE2E, RunningTargetsGetSingleUseUrlsOnTheStreamingServer) {
  auto id = Create("sleeper", {"/bin/sleep", "1000"});
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(Start(*id).ok());
  const std::string base = StreamingBase();
  std::smatch m;
  ASSERT_TRUE(std::regex_match(base, m, std::regex(R"(http://127\.0\.0\.1:(\d+))"))) << base;
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(m[1].str(), &port));

  const std::regex token(R"([A-Za-z0-9_-]{11,})");
  auto exec = ExecUrl(id->substr(0, 12), {"echo", "hello"});  // a unique prefix is fine
  ASSERT_TRUE(exec.ok()) << exec.status();
  ASSERT_TRUE(absl::StartsWith(*exec, base + "/exec/")) << *exec;
  EXPECT_TRUE(std::regex_match(exec->substr(base.size() + 6), token)) << *exec;
  auto again = ExecUrl(*id, {"echo", "hello"});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_NE(*again, *exec) << "every call mints its own token";

  auto attach = AttachUrl(*id);
  ASSERT_TRUE(attach.ok()) << attach.status();
  EXPECT_TRUE(absl::StartsWith(*attach, base + "/attach/")) << *attach;
  auto forward = PortForwardUrl(pod_id_, 8080);
  ASSERT_TRUE(forward.ok()) << forward.status();
  EXPECT_TRUE(absl::StartsWith(*forward, base + "/portforward/")) << *forward;
  auto bad_port = PortForwardUrl(pod_id_, 70000).status();
  EXPECT_TRUE(absl::IsInvalidArgument(bad_port)) << bad_port;

  // A token nobody minted is refused by the server with 404.
  auto page = HttpGet("127.0.0.1", port, "/exec/AAAAAAAAAAAAAAAAAAAAAA");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(absl::StartsWith(*page, "HTTP/1.1 404") || absl::StartsWith(*page, "HTTP/1.0 404"))
      << page->substr(0, 80);
}

// Runs `cmd` through Exec and the URL it answers, to the end.
absl::StatusOr<streaming::RemoteCommandResult> StreamExec(
    TestDaemon& d, const std::string& id, std::vector<std::string> cmd,
    streaming::RemoteCommandOptions o) {
  runtime::v1::ExecRequest req;
  req.set_container_id(id);
  for (auto& a : cmd) req.add_cmd(a);
  req.set_stdin(o.stdin);
  req.set_stdout(o.stdout);
  req.set_stderr(o.stderr);
  req.set_tty(o.tty);
  auto resp = d.client().Exec(req);
  if (!resp.ok()) return resp.status();
  return streaming::RunSpdyRemoteCommand(resp->url(), o);
}

TEST_F(StreamingE2E, ExecOutputStdinExitCodeAndTerminal) {
  auto id = Create("exec-target", {"/bin/sleep", "1000"});
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(Start(*id).ok());

  auto hello = StreamExec(d_, *id, {"echo", "hello"}, {});
  ASSERT_TRUE(hello.ok()) << hello.status() << d_.Log();
  EXPECT_EQ(hello->out, "hello\n");
  EXPECT_EQ(hello->err, "");
  EXPECT_THAT(hello->error, ::testing::HasSubstr("Success"));

  streaming::RemoteCommandOptions in;
  in.stdin = true;
  in.stdin_data = "piped through\n";
  auto cat = StreamExec(d_, *id, {"cat"}, in);
  ASSERT_TRUE(cat.ok()) << cat.status() << d_.Log();
  EXPECT_EQ(cat->out, "piped through\n");

  auto failed = StreamExec(d_, *id, {"sh", "-c", "echo oops >&2; exit 7"}, {});
  ASSERT_TRUE(failed.ok()) << failed.status() << d_.Log();
  EXPECT_EQ(failed->err, "oops\n");
  EXPECT_THAT(failed->error, ::testing::HasSubstr("NonZeroExitCode"));
  EXPECT_THAT(failed->error, ::testing::HasSubstr("\"7\""));

  streaming::RemoteCommandOptions tty;
  tty.tty = true;
  tty.stderr = false;
  auto term = StreamExec(d_, *id, {"/bin/busybox", "tty"}, tty);
  ASSERT_TRUE(term.ok()) << term.status() << d_.Log();
  EXPECT_THAT(term->out, ::testing::HasSubstr("/dev/pts/"));
}

TEST_F(StreamingE2E, AttachJoinsTheContainersStdio) {
  auto id = Create("attach-target", {"/bin/cat"}, [](runtime::v1::ContainerConfig& c) {
    c.set_stdin(true);
    c.set_stdin_once(true);
  });
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(Start(*id).ok());
  runtime::v1::AttachRequest req;
  req.set_container_id(*id);
  req.set_stdin(true);
  req.set_stdout(true);
  req.set_stderr(true);
  auto resp = d_.client().Attach(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  streaming::RemoteCommandOptions o;
  o.stdin = true;
  o.stdin_data = "through conmon\n";
  auto r = streaming::RunSpdyRemoteCommand(resp->url(), o);
  ASSERT_TRUE(r.ok()) << r.status() << d_.Log();
  EXPECT_EQ(r->out, "through conmon\n");
  // stdin_once: the client's EOF closed cat's stdin, so the container ended.
  WaitFor(*id, runtime::v1::CONTAINER_EXITED);
}

TEST_F(StreamingE2E, PortForwardReachesAListenerOfAHostNetworkPod) {
  auto port = PickFreePort();
  ASSERT_TRUE(port.ok()) << port.status();
  auto id = Create("listener", {"/bin/sh", "-c",
                                absl::StrCat("echo pong | nc -l -p ", *port)});
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(Start(*id).ok());
  auto url = PortForwardUrl(pod_id_, *port);
  ASSERT_TRUE(url.ok()) << url.status();
  // The listener may not be up yet: each attempt takes a fresh URL.
  absl::StatusOr<streaming::PortForwardResult> r;
  for (absl::Time deadline = absl::Now() + absl::Seconds(20); absl::Now() < deadline;) {
    r = streaming::RunSpdyPortForwardOnce(*url, *port, "ping\n");
    if (r.ok() && r->data == "pong\n") break;
    absl::SleepFor(absl::Milliseconds(100));
    url = PortForwardUrl(pod_id_, *port);
    ASSERT_TRUE(url.ok()) << url.status();
  }
  ASSERT_TRUE(r.ok()) << r.status() << d_.Log();
  EXPECT_EQ(r->data, "pong\n") << "error stream: " << r->error;
}

}  // namespace
}  // namespace crius::testing
