#pragma once

// An in-process CRI server for client tests. It implements just the RPCs
// the tests need, records what it was sent, and answers everything else
// with gRPC's default UNIMPLEMENTED, so tests see real wire behaviour
// (status codes, messages, message sizes) without a daemon.

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/api.grpc.pb.h"

namespace crius::client::testing {

namespace v1 = runtime::v1;

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `content` to path()/name and returns the full path.
  std::string WriteFile(const std::string& name,
                        const std::string& content) const;

 private:
  std::string path_;
};

class FakeRuntimeService final : public v1::RuntimeService::Service {
 public:
  grpc::Status Version(grpc::ServerContext*, const v1::VersionRequest*,
                       v1::VersionResponse* response) override;
  grpc::Status Status(grpc::ServerContext*, const v1::StatusRequest*,
                      v1::StatusResponse* response) override;
  grpc::Status ListPodSandbox(grpc::ServerContext*,
                              const v1::ListPodSandboxRequest* request,
                              v1::ListPodSandboxResponse* response) override;
  grpc::Status RunPodSandbox(grpc::ServerContext*,
                             const v1::RunPodSandboxRequest* request,
                             v1::RunPodSandboxResponse* response) override;
  grpc::Status ExecSync(grpc::ServerContext*,
                        const v1::ExecSyncRequest* request,
                        v1::ExecSyncResponse* response) override;
  grpc::Status ContainerStatus(grpc::ServerContext*,
                               const v1::ContainerStatusRequest* request,
                               v1::ContainerStatusResponse* response) override;
  // The streaming RPCs answer what the hooks return (a URL); without a hook
  // they are UNIMPLEMENTED.
  grpc::Status Exec(grpc::ServerContext*, const v1::ExecRequest* request,
                    v1::ExecResponse* response) override;
  grpc::Status Attach(grpc::ServerContext*, const v1::AttachRequest* request,
                      v1::AttachResponse* response) override;
  grpc::Status PortForward(grpc::ServerContext*,
                           const v1::PortForwardRequest* request,
                           v1::PortForwardResponse* response) override;
  struct StreamingHooks {
    std::function<std::string(const v1::ExecRequest&)> exec;
    std::function<std::string(const v1::AttachRequest&)> attach;
    std::function<std::string(const v1::PortForwardRequest&)> port_forward;
  };
  void SetStreamingHooks(StreamingHooks hooks);

  // What ListPodSandbox returns (filters are recorded, not applied).
  void SetPods(std::vector<v1::PodSandbox> pods);
  // Log path reported by ContainerStatus.
  void SetLogPath(std::string path);
  // States ContainerStatus reports on successive calls; the last repeats.
  void SetContainerStates(std::vector<v1::ContainerState> states);
  // Runs inside ContainerStatus with the 1-based call number, before the
  // state is chosen; lets a test change the log file at a known point.
  void OnContainerStatus(std::function<void(int)> hook);

  std::optional<v1::RunPodSandboxRequest> last_run_pod_sandbox();
  std::optional<v1::ListPodSandboxRequest> last_list_pod_sandbox();
  std::optional<v1::ExecSyncRequest> last_exec_sync();
  int container_status_calls();

 private:
  std::mutex mu_;
  std::vector<v1::PodSandbox> pods_;
  std::string log_path_;
  std::vector<v1::ContainerState> states_{v1::CONTAINER_EXITED};
  std::function<void(int)> on_container_status_;
  int container_status_calls_ = 0;
  std::optional<v1::RunPodSandboxRequest> last_run_pod_sandbox_;
  std::optional<v1::ListPodSandboxRequest> last_list_pod_sandbox_;
  std::optional<v1::ExecSyncRequest> last_exec_sync_;
  StreamingHooks streaming_;
};

// Only ListImages is overridden, to give an UNIMPLEMENTED with a message of
// the server's own that the client must pass through.
class FakeImageService final : public v1::ImageService::Service {
 public:
  static constexpr char kListImagesMessage[] =
      "fake runtime: ListImages is not implemented";
  grpc::Status ListImages(grpc::ServerContext*, const v1::ListImagesRequest*,
                          v1::ListImagesResponse*) override;
};

// The fake services served on a unix socket in a private temp directory.
class FakeCriServer {
 public:
  // Serves on `socket_path`, or on a socket in a private temp directory.
  explicit FakeCriServer(std::string socket_path = "");
  ~FakeCriServer();

  // "unix:///tmp/.../cri.sock", as a user would pass it to -r.
  const std::string& endpoint() const { return endpoint_; }
  const std::string& socket_path() const { return socket_path_; }
  const TempDir& dir() const { return dir_; }
  FakeRuntimeService& runtime() { return runtime_; }

 private:
  TempDir dir_;
  std::string socket_path_;
  std::string endpoint_;
  FakeRuntimeService runtime_;
  FakeImageService images_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace crius::client::testing
