// The gRPC edge in isolation: the recovery gate, validation before the
// call, the absl -> gRPC code mapping, and one metrics record per call.

#include "server/edge.h"

#include <vector>

#include "gtest/gtest.h"

namespace crius::server {
namespace {

struct Recorded {
  std::string operation;
  absl::StatusCode code;
};

class FakeRecorder : public metrics::OperationRecorder {
 public:
  void Record(std::string_view op, absl::StatusCode code, absl::Duration) override {
    calls.push_back({std::string(op), code});
  }
  std::vector<Recorded> calls;
};

TEST(EdgeTest, UnavailableUntilReadyAndTheCallIsNotRun) {
  FakeRecorder rec;
  Edge edge(&rec);
  bool ran = false;
  runtime::v1::VersionRequest req;
  grpc::Status s = edge.Call("Version", req, [&] {
    ran = true;
    return absl::OkStatus();
  });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE(ran);
  ASSERT_EQ(rec.calls.size(), 1u);
  EXPECT_EQ(rec.calls[0].code, absl::StatusCode::kUnavailable);

  edge.SetReady();
  s = edge.Call("Version", req, [&] {
    ran = true;
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok());
  EXPECT_TRUE(ran);
  ASSERT_EQ(rec.calls.size(), 2u);
  EXPECT_EQ(rec.calls[1].operation, "Version");
  EXPECT_EQ(rec.calls[1].code, absl::StatusCode::kOk);
}

TEST(EdgeTest, InvalidRequestIsRefusedBeforeTheCall) {
  Edge edge(nullptr);
  edge.SetReady();
  bool ran = false;
  runtime::v1::ContainerStatusRequest req;  // no container_id
  grpc::Status s = edge.Call("ContainerStatus", req, [&] {
    ran = true;
    return absl::OkStatus();
  });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("container_id"), std::string::npos) << s.error_message();
  EXPECT_FALSE(ran);
}

TEST(EdgeTest, StatusCodesAndMessagesCarryOver) {
  const std::vector<std::pair<absl::Status, grpc::StatusCode>> cases = {
      {absl::NotFoundError("no pod x"), grpc::StatusCode::NOT_FOUND},
      {absl::AlreadyExistsError("a"), grpc::StatusCode::ALREADY_EXISTS},
      {absl::FailedPreconditionError("b"), grpc::StatusCode::FAILED_PRECONDITION},
      {absl::InvalidArgumentError("c"), grpc::StatusCode::INVALID_ARGUMENT},
      {absl::DeadlineExceededError("d"), grpc::StatusCode::DEADLINE_EXCEEDED},
      {absl::UnavailableError("e"), grpc::StatusCode::UNAVAILABLE},
      {absl::UnimplementedError("f"), grpc::StatusCode::UNIMPLEMENTED},
      {absl::InternalError("g"), grpc::StatusCode::INTERNAL},
      {absl::ResourceExhaustedError("h"), grpc::StatusCode::RESOURCE_EXHAUSTED},
  };
  for (const auto& [in, want] : cases) {
    grpc::Status out = ToGrpcStatus(in);
    EXPECT_EQ(out.error_code(), want) << in;
    EXPECT_EQ(out.error_message(), std::string(in.message()));
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

TEST(EdgeTest, DescribeRequestNamesIdsImagesAndPods) {
  runtime::v1::StopContainerRequest stop;
  stop.set_container_id("c1");
  EXPECT_EQ(DescribeRequest(stop), " container_id=c1");

  runtime::v1::PullImageRequest pull;
  pull.mutable_image()->set_image("busybox:1");
  EXPECT_EQ(DescribeRequest(pull), " image=busybox:1");

  runtime::v1::RunPodSandboxRequest run;
  run.mutable_config()->mutable_metadata()->set_name("web");
  run.mutable_config()->mutable_metadata()->set_namespace_("prod");
  EXPECT_EQ(DescribeRequest(run), " name=prod/web");
}

TEST(ValidateTest, IdsMustBeSafePathElements) {
  EXPECT_TRUE(ValidateId("id", "0123abcDEF_.-x").ok());
  EXPECT_EQ(ValidateId("id", "").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateId("id", "a/b").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateId("id", "..").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateId("id", "-rf").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateId("id", std::string(129, 'a')).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidateTest, RunPodSandboxNeedsMetadataAndAnAbsoluteLogDirectory) {
  runtime::v1::RunPodSandboxRequest req;
  auto* md = req.mutable_config()->mutable_metadata();
  md->set_name("n");
  md->set_namespace_("ns");
  md->set_uid("u");
  EXPECT_TRUE(ValidateRequest(req).ok());
  req.mutable_config()->set_log_directory("relative/logs");
  auto s = ValidateRequest(req);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("log_directory"), std::string::npos);
}

TEST(ValidateTest, CreateContainerNeedsSandboxIdConfigImageAndSandboxConfig) {
  runtime::v1::CreateContainerRequest req;
  EXPECT_NE(ValidateRequest(req).message().find("pod_sandbox_id"), std::string::npos);
  req.set_pod_sandbox_id("p1");
  EXPECT_NE(ValidateRequest(req).message().find("config"), std::string::npos);
  req.mutable_config()->mutable_metadata()->set_name("c");
  EXPECT_NE(ValidateRequest(req).message().find("config.image.image"), std::string::npos);
  req.mutable_config()->mutable_image()->set_image("busybox");
  EXPECT_NE(ValidateRequest(req).message().find("sandbox_config"), std::string::npos);
  req.mutable_sandbox_config();
  EXPECT_TRUE(ValidateRequest(req).ok());
}

}  // namespace
}  // namespace crius::server
