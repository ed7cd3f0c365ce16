// crius-streaming-testserver: the streaming server with the fake backend
// (streaming/testing/fake_backend.h), so clients we did not write (Go's
// spdystream and gorilla/websocket, Python websockets) can be pointed at it
// without a daemon or containers.
//
// Usage:
//   crius-streaming-testserver [--address 127.0.0.1] [--port 0]
//       [--token-ttl-seconds 60] [--stream-creation-timeout-seconds 30]
//       [--idle-timeout-seconds 14400] [--tls-cert FILE --tls-key FILE]
//
// It prints "ready <base url>" on stdout, then reads one request per line
// on stdin and answers each with one line: the URL for it, or "error <text>".
//   exec [-i] [-t] [--no-stdout] [--no-stderr] CMD [ARGS...]
//        -i: stdin; -t: tty (stderr then off); the fake's commands are
//        echo ARGS, cat, exit N, tty, size, sleep S
//   attach [-i] [-t] [--no-stdout] [--no-stderr]   (behaves like cat)
//   portforward                 (DialPod connects to 127.0.0.1:<port>)
// EOF on stdin stops the server cleanly (SIGTERM ends it the hard way).
//
//   $ crius-streaming-testserver
//   ready http://127.0.0.1:38411
//   exec echo hello
//   http://127.0.0.1:38411/exec/Xb3...
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "streaming/server.h"
#include "streaming/testing/fake_backend.h"

namespace {

using crius::streaming::ServerOptions;

bool ParseFlags(int argc, char** argv, ServerOptions& o) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return false;
    std::string value = argv[++i];
    int n = 0;
    bool numeric = absl::SimpleAtoi(value, &n);
    if (flag == "--address") {
      o.address = value;
    } else if (flag == "--port" && numeric) {
      o.port = n;
    } else if (flag == "--token-ttl-seconds" && numeric) {
      o.token_ttl = absl::Seconds(n);
    } else if (flag == "--stream-creation-timeout-seconds" && numeric) {
      o.stream_creation_timeout = absl::Seconds(n);
    } else if (flag == "--idle-timeout-seconds" && numeric) {
      o.idle_timeout = absl::Seconds(n);
    } else if (flag == "--tls-cert") {
      o.tls_cert_file = value;
    } else if (flag == "--tls-key") {
      o.tls_key_file = value;
    } else {
      return false;
    }
  }
  return true;
}

std::string Handle(crius::streaming::Server& server, const std::string& line) {
  std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
  if (words.empty()) return "error empty request";
  bool in = false, tty = false, out = true, err = true;
  size_t i = 1;
  for (; i < words.size() && words[i].rfind("-", 0) == 0; ++i) {
    if (words[i] == "-i") in = true;
    if (words[i] == "-t") tty = true;
    if (words[i] == "-it" || words[i] == "-ti") in = tty = true;
    if (words[i] == "--no-stdout") out = false;
    if (words[i] == "--no-stderr") err = false;
  }
  if (tty) err = false;
  absl::StatusOr<std::string> url;
  if (words[0] == "exec") {
    runtime::v1::ExecRequest req;
    req.set_container_id("fake");
    for (; i < words.size(); ++i) req.add_cmd(words[i]);
    req.set_stdin(in);
    req.set_stdout(out);
    req.set_stderr(err);
    req.set_tty(tty);
    url = server.ExecUrl(req);
  } else if (words[0] == "attach") {
    runtime::v1::AttachRequest req;
    req.set_container_id("fake");
    req.set_stdin(in);
    req.set_stdout(out);
    req.set_stderr(err);
    req.set_tty(tty);
    url = server.AttachUrl(req);
  } else if (words[0] == "portforward") {
    runtime::v1::PortForwardRequest req;
    req.set_pod_sandbox_id("fake");
    url = server.PortForwardUrl(req);
  } else {
    return "error unknown request kind " + words[0];
  }
  if (!url.ok()) return "error " + std::string(url.status().message());
  return *url;
}

}  // namespace

int main(int argc, char** argv) {
  ServerOptions options;
  if (!ParseFlags(argc, argv, options)) {
    std::cerr << "usage: see the comment at the top of streaming/testing/testserver.cc\n";
    return 2;
  }
  crius::streaming::testing::FakeBackend backend;
  auto server = crius::streaming::Server::Start(options, &backend);
  if (!server.ok()) {
    std::cerr << "start: " << server.status() << "\n";
    return 1;
  }
  std::cout << "ready " << (*server)->BaseUrl() << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::cout << Handle(**server, line) << std::endl;
  }
  (*server)->Stop();
  return 0;
}
