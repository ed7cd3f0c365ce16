#include "streaming/remotecommand.h"

#include <boost/asio/post.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "nlohmann/json.hpp"

namespace crius::streaming {

namespace asio = boost::asio;

int RemoteCommandVersion(std::string_view protocol) {
  if (protocol == "channel.k8s.io" || protocol.empty()) return 1;
  if (protocol == "v2.channel.k8s.io") return 2;
  if (protocol == "v3.channel.k8s.io") return 3;
  if (protocol == "v4.channel.k8s.io") return 4;
  if (protocol == "v5.channel.k8s.io") return 5;
  return 0;
}

std::string ErrorStreamPayload(int version, const absl::StatusOr<int>& result) {
  std::string message;
  if (!result.ok()) {
    message = std::string(result.status().message());
  } else if (*result != 0) {
    message = absl::StrCat("command terminated with non-zero exit code: exit status ", *result);
  }
  if (version < kRemoteCommandV4) return message;  // raw text, empty on success
  // The JSON of a Kubernetes metav1.Status, as client-go decodes it.
  nlohmann::json j;
  j["metadata"] = nlohmann::json::object();
  if (result.ok() && *result == 0) {
    j["status"] = "Success";
    return j.dump();
  }
  j["status"] = "Failure";
  j["message"] = message;
  if (result.ok()) {
    j["reason"] = "NonZeroExitCode";
    j["details"]["causes"] = nlohmann::json::array(
        {{{"reason", "ExitCode"}, {"message", std::to_string(*result)}}});
  }
  return j.dump();
}

std::shared_ptr<RemoteCommandSession> RemoteCommandSession::Create(
    asio::any_io_executor ex, PendingRequest req, Backend* backend, ThreadGroup* threads,
    int version, RemoteCommandStreams streams, std::function<void()> on_finished) {
  return std::shared_ptr<RemoteCommandSession>(
      new RemoteCommandSession(std::move(ex), std::move(req), backend, threads, version,
                               std::move(streams), std::move(on_finished)));
}

RemoteCommandSession::RemoteCommandSession(asio::any_io_executor ex, PendingRequest req,
                                           Backend* backend, ThreadGroup* threads, int version,
                                           RemoteCommandStreams streams,
                                           std::function<void()> on_finished)
    : ex_(std::move(ex)),
      req_(std::move(req)),
      backend_(backend),
      threads_(threads),
      version_(version),
      streams_(std::move(streams)),
      on_finished_(std::move(on_finished)) {}

std::shared_ptr<FdReader> RemoteCommandSession::StartOutput(UniqueFd fd, OutStream* stream) {
  ++outputs_open_;
  auto self = shared_from_this();
  return FdReader::Start(
      ex_, std::move(fd),
      [self, stream](std::string data, std::function<void()> done) {
        if (self->cancelled_) {
          done();  // nobody listens; keep draining so the process never blocks
        } else {
          stream->Write(std::move(data), std::move(done));
        }
      },
      [self, stream] {
        if (!self->cancelled_) stream->Close();
        --self->outputs_open_;
        self->MaybeReport();
      });
}

void RemoteCommandSession::Start() {
  SessionIo io;
  auto fail = [&](const absl::Status& s) {
    backend_done_ = true;
    result_ = s;
    MaybeReport();
  };
  if (streams_.has_stdin) {
    auto p = MakePipe();
    if (!p.ok()) return fail(p.status());
    io.stdin_fd = std::move(p->read);
    stdin_ = FdWriter::Create(ex_, std::move(p->write), /*is_socket=*/false);
  }
  if (streams_.out) {
    auto p = MakePipe();
    if (!p.ok()) return fail(p.status());
    io.stdout_fd = std::move(p->write);
    stdout_reader_ = StartOutput(std::move(p->read), streams_.out.get());
  }
  if (streams_.err) {
    auto p = MakePipe();
    if (!p.ok()) return fail(p.status());
    io.stderr_fd = std::move(p->write);
    stderr_reader_ = StartOutput(std::move(p->read), streams_.err.get());
  }
  // The backend call blocks for the whole session, so it gets a thread; it
  // keeps only weak ties to the session, which may end first.
  std::weak_ptr<RemoteCommandSession> weak = shared_from_this();
  auto work = [weak, ex = ex_, req = req_, backend = backend_, resize = resize_, cancel = cancel_,
               io = std::make_shared<SessionIo>(std::move(io))]() mutable {
    absl::StatusOr<int> result = 0;
    if (req.kind == RequestKind::kExec) {
      result = backend->Exec(req.exec, std::move(*io), resize.get(), *cancel);
    } else {
      absl::Status s = backend->Attach(req.attach, std::move(*io), resize.get(), *cancel);
      if (!s.ok()) result = s;
    }
    resize->Close();
    asio::post(ex, [weak, result = std::move(result)]() mutable {
      if (auto self = weak.lock()) self->OnBackendDone(std::move(result));
    });
  };
  if (!threads_->Spawn(cancel_, std::move(work))) {
    fail(absl::UnavailableError("streaming server is stopping"));
  }
}

void RemoteCommandSession::OnStdin(std::string data, std::function<void()> consumed) {
  if (!stdin_) {
    if (consumed) consumed();
    return;
  }
  stdin_->Write(std::move(data), std::move(consumed));
}

void RemoteCommandSession::OnStdinEof() {
  if (stdin_) stdin_->Finish();
}

void RemoteCommandSession::OnResize(std::string_view data) {
  for (const TerminalSize& s : resize_parser_.Feed(data)) resize_->Push(s);
}

void RemoteCommandSession::Cancel() {
  if (cancelled_) return;
  cancelled_ = true;
  cancel_->Cancel();
  resize_->Close();
  if (stdin_) stdin_->Abort();
  MaybeReport();
}

void RemoteCommandSession::OnBackendDone(absl::StatusOr<int> result) {
  backend_done_ = true;
  result_ = std::move(result);
  if (stdin_) stdin_->Abort();
  if (!result_.ok()) {
    CRIUS_LOG(kInfo) << "streaming: " << (req_.kind == RequestKind::kExec ? "exec" : "attach")
                     << " failed: " << result_.status();
  }
  MaybeReport();
}

void RemoteCommandSession::MaybeReport() {
  // Clients read stdout and stderr to their end before they look at the
  // error stream, and close the connection once it reports; so the outcome
  // goes last, after both outputs reached EOF and were sent.
  if (finished_ || !backend_done_ || outputs_open_ > 0) return;
  if (cancelled_) return Finish();
  std::string payload = ErrorStreamPayload(version_, result_);
  OutStream* error = streams_.error.get();
  if (!error) return Finish();
  auto self = shared_from_this();
  auto close_and_finish = [self, error] {
    error->Close();
    self->Finish();
  };
  if (payload.empty()) {
    close_and_finish();
  } else {
    error->Write(std::move(payload), close_and_finish);
  }
}

void RemoteCommandSession::Finish() {
  if (finished_) return;
  finished_ = true;
  auto done = std::move(on_finished_);
  if (done) done();
}

}  // namespace crius::streaming
