#pragma once
// Helpers of the events and metrics e2e tests: a GetContainerEvents stream
// read by a thread of its own (or deliberately never read), and reading
// one figure out of a /metrics scrape.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/cri_client.h"
#include "test/support/http_get.h"

namespace crius::testing {

class EventStream {
 public:
  // Opens the stream and waits for its headers, which criusd sends once the
  // subscription exists: every event after this call is seen. With
  // `read` false nothing is ever read (a stuck subscriber).
  EventStream(client::CriClient& client, bool read = true) {
    reader_ = client.runtime_stub().GetContainerEvents(&ctx_, runtime::v1::GetEventsRequest());
    reader_->WaitForInitialMetadata();
    if (!read) return;
    thread_ = std::thread([this] {
      runtime::v1::ContainerEventResponse e;
      while (reader_->Read(&e)) {
        absl::MutexLock lock(&mu_);
        events_.push_back(e);
      }
    });
  }
  ~EventStream() { Close(); }

  // Ends the stream from the client side (a disconnecting subscriber).
  void Close() {
    if (closed_) return;
    closed_ = true;
    ctx_.TryCancel();
    if (thread_.joinable()) thread_.join();
    (void)reader_->Finish();
  }

  // The events for `id` once there are `n` of them (waits up to `timeout`);
  // fewer if the time runs out.
  std::vector<runtime::v1::ContainerEventResponse> WaitFor(const std::string& id, size_t n,
                                                           absl::Duration timeout = absl::Seconds(30)) {
    auto have = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return For(id).size() >= n; };
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&have), timeout);
    return For(id);
  }

 private:
  std::vector<runtime::v1::ContainerEventResponse> For(const std::string& id) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    std::vector<runtime::v1::ContainerEventResponse> out;
    for (const auto& e : events_) {
      if (e.container_id() == id) out.push_back(e);
    }
    return out;
  }

  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<runtime::v1::ContainerEventResponse>> reader_;
  std::thread thread_;
  bool closed_ = false;
  mutable absl::Mutex mu_;
  std::vector<runtime::v1::ContainerEventResponse> events_ ABSL_GUARDED_BY(mu_);
};

// The value of the series written exactly as `series` (name plus labels as
// the scrape prints them, e.g. `crius_events_subscribers`), or -1.
inline double MetricValue(const std::string& scrape, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(scrape, '\n')) {
    if (line.size() <= series.size() + 1 || line.substr(0, series.size()) != series ||
        line[series.size()] != ' ') {
      continue;
    }
    double v = -1;
    if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
  }
  return -1;
}

// The body of http://127.0.0.1:port/metrics, or "" on an error.
inline std::string Scrape(int port) {
  auto resp = HttpGet("127.0.0.1", port, "/metrics");
  if (!resp.ok()) return "";
  auto body = resp->find("\r\n\r\n");
  return body == std::string::npos ? "" : resp->substr(body + 4);
}

}  // namespace crius::testing
