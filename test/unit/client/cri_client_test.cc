#include "client/cri_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <optional>

#include "test/unit/client/fake_cri_server.h"

namespace crius::client {
namespace {

using testing::FakeCriServer;
using ::testing::HasSubstr;
using testing::TempDir;

TEST(EndpointToTargetTest, AcceptsTheFormsUsersWrite) {
  EXPECT_EQ(*EndpointToTarget("unix:///run/crius/crius.sock"),
            "unix:/run/crius/crius.sock");
  EXPECT_EQ(*EndpointToTarget("unix:/run/x.sock"), "unix:/run/x.sock");
  EXPECT_EQ(*EndpointToTarget("/run/x.sock"), "unix:/run/x.sock");
  EXPECT_EQ(*EndpointToTarget("relative.sock"), "unix:relative.sock");
  EXPECT_EQ(*EndpointToTarget("tcp://127.0.0.1:1234"), "127.0.0.1:1234");
  EXPECT_EQ(*EndpointToTarget("unix-abstract:crius"), "unix-abstract:crius");
}

TEST(EndpointToTargetTest, RejectsWhatCannotBeDialled) {
  EXPECT_EQ(EndpointToTarget("").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EndpointToTarget("unix://").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EndpointToTarget("npipe:////./pipe/x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FromGrpcStatusTest, KeepsCodeAndNamesTheMethod) {
  absl::Status status = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::NOT_FOUND, "no such pod"), "Stop");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "Stop: no such pod");
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK, "Stop").ok());
}

TEST(CriClientTest, ConnectToMissingSocketFailsUnavailableWithinTimeout) {
  TempDir dir;
  const absl::Duration timeout = absl::Milliseconds(300);
  absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<CriClient>> client =
      CriClient::Connect("unix://" + dir.path() + "/missing.sock", timeout);
  absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable)
      << client.status();
  EXPECT_THAT(std::string(client.status().message()),
              HasSubstr("missing.sock"));
  // Generous slack: this checks that Connect honours its deadline instead
  // of hanging, not how fast the machine is.
  EXPECT_LT(elapsed, timeout + absl::Seconds(5));
}

TEST(CriClientTest, ConnectWaitsForASocketThatAppears) {
  TempDir dir;
  std::string path = dir.path() + "/late.sock";
  auto connecting = std::async(std::launch::async, [&] {
    return CriClient::Connect("unix://" + path, absl::Seconds(30));
  });
  // The server may come up before or after Connect starts waiting; either
  // way Connect must succeed well within its timeout.
  FakeCriServer server(path);
  absl::StatusOr<std::unique_ptr<CriClient>> client = connecting.get();
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<runtime::v1::VersionResponse> version = (*client)->Version();
  EXPECT_TRUE(version.ok()) << version.status();
}

TEST(CriClientTest, VersionThroughTheLibrary) {
  FakeCriServer server;
  absl::StatusOr<std::unique_ptr<CriClient>> client =
      CriClient::Connect(server.endpoint(), absl::Seconds(30));
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<runtime::v1::VersionResponse> version = (*client)->Version();
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(version->runtime_name(), "fake-runtime");
  EXPECT_EQ(version->runtime_version(), "1.2.3");
  EXPECT_EQ(version->runtime_api_version(), "v1");
}

TEST(CriClientTest, BareSocketPathWorksToo) {
  FakeCriServer server;
  absl::StatusOr<std::unique_ptr<CriClient>> client =
      CriClient::Connect(server.socket_path(), absl::Seconds(30));
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE((*client)->Status(/*verbose=*/false).ok());
}

TEST(CriClientTest, ServerErrorsKeepTheirCodeAndMessage) {
  FakeCriServer server;
  absl::StatusOr<std::unique_ptr<CriClient>> client =
      CriClient::Connect(server.endpoint(), absl::Seconds(30));
  ASSERT_TRUE(client.ok()) << client.status();

  absl::StatusOr<runtime::v1::ListImagesResponse> images =
      (*client)->ListImages();
  EXPECT_EQ(images.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(images.status().message(),
            std::string("ListImages: ") +
                testing::FakeImageService::kListImagesMessage);

  // Not overridden by the fake at all: gRPC's own UNIMPLEMENTED.
  absl::StatusOr<runtime::v1::ImageFsInfoResponse> fs =
      (*client)->ImageFsInfo();
  EXPECT_EQ(fs.status().code(), absl::StatusCode::kUnimplemented);
}

TEST(CriClientTest, GenericCallAndPerCallTimeout) {
  FakeCriServer server;
  absl::StatusOr<std::unique_ptr<CriClient>> client =
      CriClient::Connect(server.endpoint(), absl::Seconds(30));
  ASSERT_TRUE(client.ok()) << client.status();
  (*client)->set_default_timeout(absl::Seconds(10));
  EXPECT_EQ((*client)->default_timeout(), absl::Seconds(10));

  runtime::v1::ExecSyncRequest request;
  request.set_container_id("c1");
  request.add_cmd("exit");
  request.add_cmd("7");
  absl::StatusOr<runtime::v1::ExecSyncResponse> response =
      (*client)->Call(&CriClient::RuntimeStub::ExecSync, "ExecSync", request,
                      absl::Seconds(20));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->exit_code(), 7);
}

}  // namespace
}  // namespace crius::client
