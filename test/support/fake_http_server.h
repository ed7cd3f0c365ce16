#pragma once
// FakeHttpServer: a tiny HTTP/1.1 server on a loopback address for tests
// that need a registry, token server or blob store to misbehave in a
// controlled way (redirect, stall, serve odd manifests, record headers).
// Each connection gets its own thread and one request; the answer closes the
// connection. Every request is recorded. Stopping (the destructor) wakes
// stalled connections, so no thread outlives the server.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/unique_fd.h"

namespace crius::testing {

struct FakeRequest {
  std::string method;
  std::string target;  // path and query, as sent
  std::string path;    // target without the query
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
  // The value of query parameter `name` (percent-decoded), or "".
  std::string Query(const std::string& name) const;
};

struct FakeResponse {
  enum class Mode {
    kNormal,
    kStallBeforeHeaders,  // read the request, then never answer
    kStallAfterHeaders,   // send the headers (and `body`), then never finish
    kCutAfterBody,        // send the headers (and `body`), then close the connection
  };
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  Mode mode = Mode::kNormal;
  // With kStallAfterHeaders and kCutAfterBody: the Content-Length promised
  // (more than body).
  size_t promised_length = 0;
};

class FakeHttpServer {
 public:
  using Handler = std::function<FakeResponse(const FakeRequest&)>;

  // Listens on `address`:0 (127.0.0.1, 127.0.0.2...; any 127/8 address works
  // on Linux without configuration).
  static absl::StatusOr<std::unique_ptr<FakeHttpServer>> Start(Handler handler,
                                                               const std::string& address = "127.0.0.1");
  ~FakeHttpServer();
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  int port() const { return port_; }
  const std::string& address() const { return address_; }
  std::string host() const { return address_ + ":" + std::to_string(port_); }  // "127.0.0.1:1234"
  std::string url() const { return "http://" + host(); }

  std::vector<FakeRequest> requests() const;
  size_t request_count() const;

 private:
  FakeHttpServer(Handler handler, std::string address, UniqueFd listen_fd, int port, UniqueFd stop_r,
                 UniqueFd stop_w);
  void AcceptLoop();
  void Serve(int fd);
  // Waits until `fd` is readable or the server stops; false when stopping.
  bool WaitReadable(int fd) const;

  Handler handler_;
  std::string address_;
  UniqueFd listen_fd_;
  int port_;
  // Closing the write end makes the read end readable forever: every poll
  // loop watches it, so stopping wakes all of them at once.
  UniqueFd stop_r_;
  UniqueFd stop_w_;
  std::thread acceptor_;
  mutable absl::Mutex mu_;
  std::vector<std::thread> workers_ ABSL_GUARDED_BY(mu_);
  std::vector<FakeRequest> requests_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crius::testing
