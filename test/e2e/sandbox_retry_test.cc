// kubelet gives RunPodSandbox a deadline and, when it passes, retries with
// the same pod metadata. The pod the first call went on to create must be
// handed to the retry, not created twice and not leaked.

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "test/e2e/sandbox_util.h"
#include "test/support/test_daemon.h"

namespace crius::testing {
namespace {

TEST(SandboxRetryE2E, RunThatOutlivesItsDeadlineIsClaimedByTheRetry) {
  if (!CanRunPodNetworkTests()) GTEST_SKIP() << "needs root, the CNI plugins, ip and nsenter";
  TestDaemon d;
  BridgeNetwork net(d);
  ASSERT_TRUE(net.subnet().ok());
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  ASSERT_TRUE(WaitNetworkReady(d.client())) << d.Log();
  PodReaper reaper(d);  // removes the pod even when an assertion fails

  runtime::v1::RunPodSandboxRequest req;
  *req.mutable_config() = PodConfig("late");
  // Far shorter than a pod start: the caller gives up while criusd works.
  auto first = d.client().RunPodSandbox(req, absl::Milliseconds(1));
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), absl::StatusCode::kDeadlineExceeded) << first.status();

  auto retry = d.client().RunPodSandbox(req, absl::Minutes(1));
  ASSERT_TRUE(retry.ok()) << retry.status() << d.Log();
  reaper.Add(retry->pod_sandbox_id());
  auto again = d.client().RunPodSandbox(req, absl::Minutes(1));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->pod_sandbox_id(), retry->pod_sandbox_id());

  auto list = d.client().ListPodSandbox();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->items_size(), 1) << "the retry must not create a second pod";
  EXPECT_EQ(list->items(0).id(), retry->pod_sandbox_id());
  EXPECT_EQ(list->items(0).state(), runtime::v1::SANDBOX_READY);

  runtime::v1::RemovePodSandboxRequest rm;
  rm.set_pod_sandbox_id(retry->pod_sandbox_id());
  EXPECT_TRUE(d.client().RemovePodSandbox(rm).ok()) << d.Log();
}

}  // namespace
}  // namespace crius::testing

namespace crius::testing {
namespace {

TEST(SandboxValidationE2E, MalformedBandwidthAnnotationIsInvalidArgument) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  for (const std::string& bad : std::vector<std::string>{".", "12Q", std::string(400, '9')}) {
    runtime::v1::RunPodSandboxRequest req;
    *req.mutable_config() = HostNetworkPodConfig("bw");
    (*req.mutable_config()->mutable_annotations())["kubernetes.io/ingress-bandwidth"] = bad;
    auto s = d.client().RunPodSandbox(req).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad << ": " << s;
    EXPECT_TRUE(absl::StrContains(s.message(), "ingress-bandwidth")) << s;
  }
  auto list = d.client().ListPodSandbox();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->items_size(), 0);
}

}  // namespace
}  // namespace crius::testing
