#include "test/unit/client/fake_cri_server.h"

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <utility>

namespace crius::client::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  // Unix socket paths are limited to 107 bytes; keep the prefix short.
  std::string pattern = std::string(base != nullptr && base[0] != '\0' &&
                                            std::string(base).size() < 40
                                        ? base
                                        : "/tmp") +
                        "/crius-client-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + " failed");
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::WriteFile(const std::string& name,
                               const std::string& content) const {
  std::string full = path_ + "/" + name;
  std::ofstream(full, std::ios::binary | std::ios::trunc) << content;
  return full;
}

grpc::Status FakeRuntimeService::Version(grpc::ServerContext*,
                                         const v1::VersionRequest*,
                                         v1::VersionResponse* response) {
  response->set_version("0.1.0");
  response->set_runtime_name("fake-runtime");
  response->set_runtime_version("1.2.3");
  response->set_runtime_api_version("v1");
  return grpc::Status::OK;
}

grpc::Status FakeRuntimeService::Status(grpc::ServerContext*,
                                        const v1::StatusRequest* request,
                                        v1::StatusResponse* response) {
  v1::RuntimeCondition* ready = response->mutable_status()->add_conditions();
  ready->set_type("RuntimeReady");
  ready->set_status(true);
  if (request->verbose()) {
    (*response->mutable_info())["config"] = R"({"b": 2, "a": [1, "x"]})";
    (*response->mutable_info())["note"] = "plain text, not JSON";
  }
  return grpc::Status::OK;
}

grpc::Status FakeRuntimeService::ListPodSandbox(
    grpc::ServerContext*, const v1::ListPodSandboxRequest* request,
    v1::ListPodSandboxResponse* response) {
  std::lock_guard<std::mutex> lock(mu_);
  last_list_pod_sandbox_ = *request;
  for (const v1::PodSandbox& pod : pods_) *response->add_items() = pod;
  return grpc::Status::OK;
}

grpc::Status FakeRuntimeService::RunPodSandbox(
    grpc::ServerContext*, const v1::RunPodSandboxRequest* request,
    v1::RunPodSandboxResponse* response) {
  std::lock_guard<std::mutex> lock(mu_);
  last_run_pod_sandbox_ = *request;
  response->set_pod_sandbox_id("f00dfeedcafe0123456789abcdef");
  return grpc::Status::OK;
}

grpc::Status FakeRuntimeService::ExecSync(grpc::ServerContext*,
                                          const v1::ExecSyncRequest* request,
                                          v1::ExecSyncResponse* response) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_exec_sync_ = *request;
  }
  // "exit N" exits with N; every command echoes its argv on stdout and
  // writes a fixed line on stderr so tests can tell the streams apart.
  std::string joined;
  for (const std::string& arg : request->cmd()) {
    joined += (joined.empty() ? "" : " ") + arg;
  }
  response->set_stdout("ran: " + joined + "\n");
  response->set_stderr("to stderr\n");
  if (request->cmd_size() == 2 && request->cmd(0) == "exit") {
    response->set_exit_code(std::atoi(request->cmd(1).c_str()));
  }
  return grpc::Status::OK;
}

grpc::Status FakeRuntimeService::ContainerStatus(
    grpc::ServerContext*, const v1::ContainerStatusRequest* request,
    v1::ContainerStatusResponse* response) {
  std::function<void(int)> hook;
  int call = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    call = ++container_status_calls_;
    hook = on_container_status_;
  }
  if (hook) hook(call);
  std::lock_guard<std::mutex> lock(mu_);
  v1::ContainerStatus& status = *response->mutable_status();
  status.set_id(request->container_id());
  status.set_log_path(log_path_);
  size_t index =
      std::min<size_t>(static_cast<size_t>(call - 1), states_.size() - 1);
  status.set_state(states_[index]);
  return grpc::Status::OK;
}

void FakeRuntimeService::SetPods(std::vector<v1::PodSandbox> pods) {
  std::lock_guard<std::mutex> lock(mu_);
  pods_ = std::move(pods);
}

void FakeRuntimeService::SetLogPath(std::string path) {
  std::lock_guard<std::mutex> lock(mu_);
  log_path_ = std::move(path);
}

void FakeRuntimeService::SetContainerStates(
    std::vector<v1::ContainerState> states) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!states.empty()) states_ = std::move(states);
}

void FakeRuntimeService::OnContainerStatus(std::function<void(int)> hook) {
  std::lock_guard<std::mutex> lock(mu_);
  on_container_status_ = std::move(hook);
}

std::optional<v1::RunPodSandboxRequest>
FakeRuntimeService::last_run_pod_sandbox() {
  std::lock_guard<std::mutex> lock(mu_);
  return last_run_pod_sandbox_;
}

std::optional<v1::ListPodSandboxRequest>
FakeRuntimeService::last_list_pod_sandbox() {
  std::lock_guard<std::mutex> lock(mu_);
  return last_list_pod_sandbox_;
}

namespace {

// Answers `hook(request)` as the response's URL, or UNIMPLEMENTED.
template <typename Hook, typename Request, typename Response>
grpc::Status AnswerUrl(const Hook& hook, const Request& request,
                       Response* response) {
  if (!hook) return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no hook");
  response->set_url(hook(request));
  return grpc::Status::OK;
}

}  // namespace

void FakeRuntimeService::SetStreamingHooks(StreamingHooks hooks) {
  std::lock_guard<std::mutex> lock(mu_);
  streaming_ = std::move(hooks);
}

grpc::Status FakeRuntimeService::Exec(grpc::ServerContext*,
                                      const v1::ExecRequest* request,
                                      v1::ExecResponse* response) {
  std::lock_guard<std::mutex> lock(mu_);
  return AnswerUrl(streaming_.exec, *request, response);
}

grpc::Status FakeRuntimeService::Attach(grpc::ServerContext*,
                                        const v1::AttachRequest* request,
                                        v1::AttachResponse* response) {
  std::lock_guard<std::mutex> lock(mu_);
  return AnswerUrl(streaming_.attach, *request, response);
}

grpc::Status FakeRuntimeService::PortForward(
    grpc::ServerContext*, const v1::PortForwardRequest* request,
    v1::PortForwardResponse* response) {
  std::lock_guard<std::mutex> lock(mu_);
  return AnswerUrl(streaming_.port_forward, *request, response);
}

std::optional<v1::ExecSyncRequest> FakeRuntimeService::last_exec_sync() {
  std::lock_guard<std::mutex> lock(mu_);
  return last_exec_sync_;
}

int FakeRuntimeService::container_status_calls() {
  std::lock_guard<std::mutex> lock(mu_);
  return container_status_calls_;
}

grpc::Status FakeImageService::ListImages(grpc::ServerContext*,
                                          const v1::ListImagesRequest*,
                                          v1::ListImagesResponse*) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, kListImagesMessage);
}

FakeCriServer::FakeCriServer(std::string socket_path)
    : socket_path_(socket_path.empty() ? dir_.path() + "/cri.sock"
                                       : std::move(socket_path)),
      endpoint_("unix://" + socket_path_) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_path_,
                           grpc::InsecureServerCredentials());
  builder.RegisterService(&runtime_);
  builder.RegisterService(&images_);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) {
    throw std::runtime_error("cannot serve on " + socket_path_);
  }
}

FakeCriServer::~FakeCriServer() {
  server_->Shutdown();
  server_->Wait();
}

}  // namespace crius::client::testing
