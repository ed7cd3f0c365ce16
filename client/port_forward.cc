// criusctl port-forward: one SPDY session for the whole run (the URL's
// token is single-use), one pair of streams (error, data) per accepted
// local connection, told apart by the requestid header as kubectl does.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/write.hpp>
#include <csignal>
#include <deque>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "client/stream_client.h"
#include "streaming/client.h"
#include "streaming/spdy_session.h"
#include "streaming/transport.h"

namespace crius::client {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using streaming::SpdySession;

constexpr uint32_t kSpdyCancel = 5;  // RST_STREAM status CANCEL

struct Conn {
  explicit Conn(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;
  uint32_t data_id = 0;
  uint32_t error_id = 0;
  std::deque<std::string> out;  // from the pod, not yet written locally
  bool writing = false;
  bool remote_fin = false;
  bool local_eof = false;
  bool done = false;
  std::string error;
  char buf[16384];
};

class Forwarder {
 public:
  Forwarder(asio::io_context& io, int remote_port, std::ostream& err)
      : io_(io),
        acceptor_(io),
        signals_(io),
        port_(std::to_string(remote_port)),
        err_(err) {}

  absl::Status Run(const std::string& url, int local_port) {
    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
      if (!ec) Shutdown();
    });
    tcp::socket socket(io_);
    std::string extra =
        "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
        "X-Stream-Protocol-Version: portforward.k8s.io\r\n";
    absl::StatusOr<streaming::UpgradeResult> up =
        streaming::DialUpgrade(socket, url, "POST", extra);
    if (!up.ok()) return up.status();
    if (up->status != 101) {
      return absl::FailedPreconditionError(
          absl::StrCat("streaming server refused the upgrade: HTTP ",
                       up->status, ": ", up->body));
    }
    boost::system::error_code ec;
    tcp::endpoint local(asio::ip::make_address("127.0.0.1"), local_port);
    acceptor_.open(local.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(local, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("listen on 127.0.0.1:", local_port, ": ", ec.message()));
    }
    session_ =
        SpdySession::Create(streaming::MakeTcpTransport(std::move(socket)),
                            SpdySession::Role::kClient, MakeCallbacks());
    session_->Start(up->leftover);
    Accept();
    io_.run();
    return closed_status_;
  }

 private:
  SpdySession::Callbacks MakeCallbacks() {
    SpdySession::Callbacks cb;
    cb.on_data = [this](uint32_t id, std::string data) {
      OnData(id, std::move(data));
    };
    cb.on_fin = [this](uint32_t id) { OnFin(id); };
    cb.on_reset = [this](uint32_t id, uint32_t) {
      if (auto c = Find(id)) Drop(c);
    };
    cb.on_closed = [this](const absl::Status& s) {
      if (!shutting_down_) closed_status_ = s;
      Shutdown();
      std::vector<std::shared_ptr<Conn>> all;
      for (auto& [id, c] : conns_) all.push_back(c);
      for (auto& c : all) Drop(c);
    };
    return cb;
  }

  void Shutdown() {
    shutting_down_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    signals_.cancel();
    if (session_ && !session_->closed()) session_->Close();
  }

  std::shared_ptr<Conn> Find(uint32_t id) {
    auto it = conns_.find(id);
    return it == conns_.end() ? nullptr : it->second;
  }

  void Accept() {
    acceptor_.async_accept(
        [this](const boost::system::error_code& ec, tcp::socket s) {
          if (ec) return;  // closed by Shutdown
          Open(std::make_shared<Conn>(std::move(s)));
          Accept();
        });
  }

  void Open(std::shared_ptr<Conn> c) {
    std::string request = std::to_string(next_request_++);
    absl::StatusOr<uint32_t> error_id = session_->OpenStream(
        {{"streamtype", "error"}, {"port", port_}, {"requestid", request}});
    absl::StatusOr<uint32_t> data_id =
        error_id.ok() ? session_->OpenStream({{"streamtype", "data"},
                                              {"port", port_},
                                              {"requestid", request}})
                      : error_id;
    if (!data_id.ok()) {
      err_ << "port-forward: " << data_id.status().message() << "\n";
      return;
    }
    c->error_id = *error_id;
    c->data_id = *data_id;
    conns_[c->error_id] = c;
    conns_[c->data_id] = c;
    ReadLocal(c);
  }

  // Local bytes go to the data stream; the next read waits until they were
  // written to the connection, so a fast local writer is held back.
  void ReadLocal(std::shared_ptr<Conn> c) {
    c->socket.async_read_some(
        asio::buffer(c->buf),
        [this, c](const boost::system::error_code& ec, size_t n) {
          if (c->done) return;
          if (ec == asio::error::eof) {
            c->local_eof = true;
            session_->Send(c->data_id, "", true);
            MaybeFinish(c);
            return;
          }
          if (ec) {
            session_->Reset(c->data_id, kSpdyCancel);
            Drop(c);
            return;
          }
          session_->Send(c->data_id, std::string(c->buf, n), false, [this, c] {
            if (!c->done) ReadLocal(c);
          });
        });
  }

  void OnData(uint32_t id, std::string data) {
    std::shared_ptr<Conn> c = Find(id);
    if (!c) {
      session_->Consumed(id, data.size());
      return;
    }
    if (id == c->error_id) {
      c->error += data;
      session_->Consumed(id, data.size());
      return;
    }
    c->out.push_back(std::move(data));
    WriteLocal(c);
  }

  // Pod bytes go to the local socket; the session's window reopens only as
  // they leave (Consumed), which throttles the pod side to our reader.
  void WriteLocal(std::shared_ptr<Conn> c) {
    if (c->writing || c->done) return;
    if (c->out.empty()) {
      if (c->remote_fin) {
        boost::system::error_code ignored;
        c->socket.shutdown(tcp::socket::shutdown_send, ignored);
        MaybeFinish(c);
      }
      return;
    }
    c->writing = true;
    asio::async_write(c->socket, asio::buffer(c->out.front()),
                      [this, c](const boost::system::error_code& ec, size_t n) {
                        c->writing = false;
                        if (c->done) return;
                        c->out.pop_front();
                        session_->Consumed(c->data_id, n);
                        if (ec) {
                          session_->Reset(c->data_id, kSpdyCancel);
                          Drop(c);
                          return;
                        }
                        WriteLocal(c);
                      });
  }

  void OnFin(uint32_t id) {
    std::shared_ptr<Conn> c = Find(id);
    if (!c) return;
    if (id == c->error_id) {
      if (!c->error.empty()) err_ << "port-forward: " << c->error << "\n";
      c->error.clear();
      return;
    }
    c->remote_fin = true;
    WriteLocal(c);
  }

  void MaybeFinish(const std::shared_ptr<Conn>& c) {
    if (c->local_eof && c->remote_fin && c->out.empty() && !c->writing) Drop(c);
  }

  void Drop(const std::shared_ptr<Conn>& c) {
    if (c->done) return;
    c->done = true;
    if (!c->error.empty()) err_ << "port-forward: " << c->error << "\n";
    boost::system::error_code ignored;
    c->socket.close(ignored);
    conns_.erase(c->data_id);
    conns_.erase(c->error_id);
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  std::string port_;
  std::ostream& err_;
  std::shared_ptr<SpdySession> session_;
  std::map<uint32_t, std::shared_ptr<Conn>> conns_;  // by both stream ids
  uint64_t next_request_ = 0;
  bool shutting_down_ = false;
  absl::Status closed_status_;
};

}  // namespace

absl::Status RunPortForward(const std::string& url, int local_port,
                            int remote_port, std::ostream& err) {
  asio::io_context io(1);
  Forwarder forwarder(io, remote_port, err);
  return forwarder.Run(url, local_port);
}

}  // namespace crius::client
