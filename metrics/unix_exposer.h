#pragma once
// /metrics over a unix socket (metrics.address: unix:///path), for nodes
// whose scraper reaches the runtime through a socket rather than a TCP
// port. prometheus-cpp's exposer (civetweb, as Debian builds it) listens on
// TCP only, so this is a minimal HTTP/1.0 responder: one request per
// connection, GET /metrics answered with the text format, anything else 404.

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace crius::metrics {

class UnixExposer {
 public:
  // Binds `path` (replacing a stale socket file) with mode 0660 and serves
  // the text `render` returns at every scrape.
  static absl::StatusOr<std::unique_ptr<UnixExposer>> Start(const std::string& path,
                                                            std::function<std::string()> render);
  ~UnixExposer();  // stops serving and removes the socket

 private:
  UnixExposer(std::string path, std::function<std::string()> render) : path_(std::move(path)), render_(std::move(render)) {}
  void Loop();
  void Serve(int fd);

  const std::string path_;
  const std::function<std::string()> render_;
  UniqueFd listen_fd_;
  UniqueFd stop_read_, stop_write_;
  std::thread thread_;
};

}  // namespace crius::metrics
