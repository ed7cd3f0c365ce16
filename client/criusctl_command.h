#pragma once

// The pieces criusctl's subcommands share: how they are declared, the
// connection session they draw clients from, and small helpers.

#include <cstddef>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/cri_client.h"
#include "client/criusctl_flags.h"
#include "google/protobuf/message.h"

// Evaluates `expr` (an absl::StatusOr) into a new variable `lhs`, or returns
// its error from the enclosing command. Named apart from common/'s macros
// because the client must not depend on common/.
#define CRIUSCTL_ASSIGN_OR_RETURN(lhs, expr)    \
  auto lhs##_or = (expr);                       \
  if (!lhs##_or.ok()) return lhs##_or.status(); \
  auto& lhs = *lhs##_or

namespace crius::client {

struct GlobalOptions {
  std::string runtime_endpoint;
  std::string image_endpoint;
  absl::Duration timeout = absl::Minutes(2);
  // Whether --timeout was given; without it, RunPodSandbox and PullImage get
  // kubelet's longer deadlines instead of the two-minute default.
  bool timeout_set = false;
  // What exec -i and attach -i read (stdin; tests pass a pipe).
  int stdin_fd = 0;
};

// Connects on first use, so a command that needs only the runtime service
// never depends on the image endpoint being up, and the other way round.
class Session {
 public:
  explicit Session(GlobalOptions options) : options_(std::move(options)) {}

  absl::StatusOr<CriClient*> Runtime();
  absl::StatusOr<CriClient*> Images();
  const GlobalOptions& options() const { return options_; }

 private:
  absl::StatusOr<CriClient*> Open(const std::string& endpoint,
                                  std::unique_ptr<CriClient>& slot);

  GlobalOptions options_;
  std::unique_ptr<CriClient> runtime_;
  std::unique_ptr<CriClient> images_;
};

struct CommandContext {
  const std::string& command;  // the subcommand's name, for messages
  Session& session;
  const ParsedFlags& flags;
  std::ostream& out;
  std::ostream& err;
};

// A command returns its exit code, or an error that the dispatcher prints
// and turns into exit code 1.
using CommandFn = absl::StatusOr<int> (*)(CommandContext&);

struct Command {
  // Every member has a default so the tables can name only what differs.
  std::string name = "";
  std::string args_usage = "";  // e.g. "POD-ID CONTAINER-CONFIG POD-CONFIG"
  std::string summary = "";
  std::vector<FlagSpec> flags = {};
  size_t min_args = 0;
  size_t max_args = std::numeric_limits<size_t>::max();
  // True when everything after the first positional belongs to it (exec).
  bool stop_at_positional = false;
  CommandFn run = nullptr;
};

// Each file of commands contributes its own.
void AddQueryCommands(std::vector<Command>& commands);  // criusctl_query.cc
void AddLifecycleCommands(
    std::vector<Command>& commands);                  // criusctl_lifecycle.cc
void AddLogsCommand(std::vector<Command>& commands);  // criusctl_logs.cc
void AddStatsCommands(std::vector<Command>& commands);  // criusctl_stats.cc
void AddEventsCommand(std::vector<Command>& commands);  // criusctl_events.cc
void AddStreamCommands(std::vector<Command>& commands);  // criusctl_stream.cc

// exec -s: the command through ExecSync (criusctl_lifecycle.cc).
absl::StatusOr<int> ExecSync(CommandContext& ctx);

// Reads a PodSandboxConfig/ContainerConfig JSON file as crictl does:
// snake_case or camelCase names, unknown fields ignored.
absl::Status ReadJsonConfig(const std::string& path,
                            google::protobuf::Message& message);

// Prints one per-item failure of a multi-id command ("stop A B C" goes on
// after A fails, like crictl) and remembers that the command failed.
void ReportItemError(CommandContext& ctx, const absl::Status& status,
                     int& exit_code);

}  // namespace crius::client
