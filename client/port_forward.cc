// criusctl port-forward: a local listener whose every accepted connection
// gets a tunnel to the pod's port (stream_connection.h: a stream pair on
// one SPDY session, or a WebSocket session of its own), and the bytes
// pumped both ways with backpressure, the same for both transports.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/write.hpp>
#include <csignal>
#include <deque>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "client/stream_client.h"
#include "client/stream_connection.h"

namespace crius::client {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

struct Conn {
  explicit Conn(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;
  std::unique_ptr<PortTunnel> tunnel;
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
  Forwarder(asio::io_context& io, std::ostream& err)
      : io_(io), acceptor_(io), signals_(io), err_(err) {}

  absl::Status Run(PortTunnelTarget target, int local_port) {
    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
      if (!ec) Shutdown();
    });
    absl::StatusOr<std::unique_ptr<PortTunnels>> tunnels =
        ConnectPortTunnels(io_, std::move(target), [this](const absl::Status& s) {
          if (!shutting_down_) closed_status_ = s;
          Shutdown();
        });
    if (!tunnels.ok()) return tunnels.status();
    tunnels_ = std::move(*tunnels);
    boost::system::error_code ec;
    tcp::endpoint local(asio::ip::make_address("127.0.0.1"), local_port);
    acceptor_.open(local.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(local, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      tunnels_->Shutdown();
      return absl::UnavailableError(
          absl::StrCat("listen on 127.0.0.1:", local_port, ": ", ec.message()));
    }
    Accept();
    io_.run();
    return closed_status_;
  }

 private:
  void Shutdown() {
    if (shutting_down_) return;
    shutting_down_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    signals_.cancel();
    std::vector<std::shared_ptr<Conn>> all(conns_.begin(), conns_.end());
    for (auto& c : all) Drop(c);
    if (tunnels_) tunnels_->Shutdown();
  }

  void Accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket s) {
      if (ec) return;  // closed by Shutdown
      Open(std::make_shared<Conn>(std::move(s)));
      Accept();
    });
  }

  void Open(std::shared_ptr<Conn> c) {
    std::weak_ptr<Conn> weak = c;
    PortTunnel::Callbacks cb;
    cb.on_data = [this, weak](std::string data) {
      if (auto c = weak.lock()) {
        c->out.push_back(std::move(data));
        WriteLocal(c);
      }
    };
    cb.on_fin = [this, weak] {
      if (auto c = weak.lock()) {
        c->remote_fin = true;
        WriteLocal(c);
      }
    };
    cb.on_error = [weak](std::string text) {
      if (auto c = weak.lock()) c->error += text;
    };
    cb.on_reset = [this, weak] {
      if (auto c = weak.lock()) Drop(c);
    };
    absl::StatusOr<std::unique_ptr<PortTunnel>> tunnel = tunnels_->Open(std::move(cb));
    if (!tunnel.ok()) {
      err_ << "port-forward: " << tunnel.status().message() << "\n";
      return;
    }
    c->tunnel = std::move(*tunnel);
    conns_.insert(c);
    ReadLocal(c);
  }

  // Local bytes go to the tunnel; the next read waits until they were
  // written to the connection, so a fast local writer is held back.
  void ReadLocal(std::shared_ptr<Conn> c) {
    c->socket.async_read_some(asio::buffer(c->buf),
                              [this, c](const boost::system::error_code& ec, size_t n) {
                                if (c->done) return;
                                if (ec == asio::error::eof) {
                                  c->local_eof = true;
                                  c->tunnel->FinishSending();
                                  MaybeFinish(c);
                                  return;
                                }
                                if (ec) {
                                  c->tunnel->Reset();
                                  Drop(c);
                                  return;
                                }
                                c->tunnel->Send(std::string(c->buf, n), [this, c] {
                                  if (!c->done) ReadLocal(c);
                                });
                              });
  }

  // Pod bytes go to the local socket; the tunnel's window reopens only as
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
                        c->tunnel->Consumed(n);
                        if (ec) {
                          c->tunnel->Reset();
                          Drop(c);
                          return;
                        }
                        WriteLocal(c);
                      });
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
    if (c->tunnel) c->tunnel->Reset();
    conns_.erase(c);
    // The tunnel may be running the callback that got us here: it goes
    // with the connection once that returned.
    asio::post(io_, [c] {});
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  std::ostream& err_;
  std::unique_ptr<PortTunnels> tunnels_;
  std::set<std::shared_ptr<Conn>> conns_;
  bool shutting_down_ = false;
  absl::Status closed_status_;
};

}  // namespace

absl::Status RunPortForward(PortTunnelTarget target, int local_port, std::ostream& err) {
  asio::io_context io(1);
  Forwarder forwarder(io, err);
  return forwarder.Run(std::move(target), local_port);
}

}  // namespace crius::client
