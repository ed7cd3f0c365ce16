#include "client/criusctl.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/criusctl_command.h"
#include "google/protobuf/util/json_util.h"

namespace crius::client {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

const std::vector<FlagSpec>& GlobalFlags() {
  static const std::vector<FlagSpec> flags = {
      {{"-r", "--runtime-endpoint"},
       true,
       "ENDPOINT",
       "runtime service socket (default $CONTAINER_RUNTIME_ENDPOINT or " +
           std::string(kDefaultRuntimeEndpoint) + ")"},
      {{"-i", "--image-endpoint"},
       true,
       "ENDPOINT",
       "image service socket (default $IMAGE_SERVICE_ENDPOINT or the runtime "
       "endpoint)"},
      {{"-t", "--timeout"},
       true,
       "DURATION",
       "connect and per-call timeout, e.g. 10s, 2m (default 2m)"},
      {{"-h", "--help"}, false, "", "show this help"},
  };
  return flags;
}

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = [] {
    std::vector<Command> all;
    AddQueryCommands(all);
    AddLifecycleCommands(all);
    AddLogsCommand(all);
    AddStatsCommands(all);
    AddEventsCommand(all);
    AddStreamCommands(all);
    return all;
  }();
  return commands;
}

const Command* FindCommand(std::string_view name) {
  for (const Command& command : Commands()) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

void PrintUsage(std::ostream& os) {
  os << "criusctl - a small crictl-like client for CRI runtimes\n\n"
        "Usage: criusctl [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS...]\n\n"
        "Global options:\n"
     << FlagsHelp(GlobalFlags()) << "\nCommands:\n";
  for (const Command& command : Commands()) {
    std::string name = command.name;
    name.resize(std::max<size_t>(name.size(), 10), ' ');
    os << "  " << name << "  " << command.summary << "\n";
  }
  os << "\nRun 'criusctl COMMAND --help' for a command's options.\n";
}

std::vector<FlagSpec> WithHelpFlag(const Command& command) {
  std::vector<FlagSpec> flags = command.flags;
  flags.push_back({{"-h", "--help"}, false, "", "show this help"});
  return flags;
}

void PrintCommandUsage(const Command& command, std::ostream& os) {
  os << "Usage: criusctl " << command.name;
  if (!command.flags.empty()) os << " [OPTIONS]";
  if (!command.args_usage.empty()) os << " " << command.args_usage;
  os << "\n\n" << command.summary << "\n";
  std::vector<FlagSpec> flags = WithHelpFlag(command);
  os << "\nOptions:\n" << FlagsHelp(flags);
}

std::string EnvOr(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && value[0] != '\0' ? std::string(value)
                                              : std::move(fallback);
}

int UsageError(std::ostream& err, absl::string_view message,
               const Command* command) {
  err << "criusctl: " << message << "\n";
  if (command != nullptr) {
    err << "Run 'criusctl " << command->name << " --help' for usage.\n";
  } else {
    err << "Run 'criusctl --help' for usage.\n";
  }
  return kExitUsage;
}

}  // namespace

absl::StatusOr<CriClient*> Session::Runtime() {
  return Open(options_.runtime_endpoint, runtime_);
}

absl::StatusOr<CriClient*> Session::Images() {
  // One connection serves both services when they share a socket.
  if (options_.image_endpoint == options_.runtime_endpoint) return Runtime();
  return Open(options_.image_endpoint, images_);
}

absl::StatusOr<CriClient*> Session::Open(const std::string& endpoint,
                                         std::unique_ptr<CriClient>& slot) {
  if (slot != nullptr) return slot.get();
  absl::StatusOr<std::string> target = EndpointToTarget(endpoint);
  if (!target.ok()) return target.status();
  // A tool run by hand should not sit out the whole timeout when the socket
  // is simply not there; the library waits because a daemon may still be
  // starting, which matters to tests, not to someone at a shell.
  if (absl::StartsWith(*target, "unix:/")) {
    std::string path = target->substr(5);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      return absl::UnavailableError(absl::StrCat("connect to CRI endpoint ",
                                                 endpoint, ": ", path, ": ",
                                                 std::strerror(errno)));
    }
  }
  absl::Duration connect_timeout = options_.timeout > absl::ZeroDuration()
                                       ? options_.timeout
                                       : kDefaultCallTimeout;
  absl::StatusOr<std::unique_ptr<CriClient>> client =
      CriClient::Connect(endpoint, connect_timeout);
  if (!client.ok()) return client.status();
  (*client)->set_default_timeout(options_.timeout);
  slot = *std::move(client);
  return slot.get();
}

absl::Status ReadJsonConfig(const std::string& path,
                            google::protobuf::Message& message) {
  std::ifstream file(path);
  if (!file) {
    return absl::InvalidArgumentError(
        absl::StrCat("open ", path, ": ", std::strerror(errno)));
  }
  std::stringstream content;
  content << file.rdbuf();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  google::protobuf::util::Status status =
      google::protobuf::util::JsonStringToMessage(content.str(), &message,
                                                  options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("parse ", path, " as ", message.GetTypeName(), ": ",
                     status.message().as_string()));
  }
  return absl::OkStatus();
}

void ReportItemError(CommandContext& ctx, const absl::Status& status,
                     int& exit_code) {
  ctx.err << "criusctl " << ctx.command << ": " << status.ToString() << "\n";
  exit_code = kExitFailure;
}

int RunCriusctl(const std::vector<std::string>& args, std::ostream& out,
                std::ostream& err) {
  return RunCriusctl(args, STDIN_FILENO, out, err);
}

int RunCriusctl(const std::vector<std::string>& args, int stdin_fd,
                std::ostream& out, std::ostream& err) {
  // Global flags end at the command name.
  absl::StatusOr<ParsedFlags> globals =
      ParseFlags(args, 0, GlobalFlags(), /*stop_at_positional=*/true);
  if (!globals.ok()) {
    return UsageError(err, globals.status().message(), nullptr);
  }
  std::vector<std::string>& rest = globals->positional();
  if (globals->GetBool("help") ||
      (!rest.empty() && rest[0] == "help" && rest.size() == 1)) {
    PrintUsage(out);
    return 0;
  }
  if (rest.empty()) {
    PrintUsage(err);
    return kExitUsage;
  }
  if (rest[0] == "help") {
    const Command* command = FindCommand(rest[1]);
    if (command == nullptr) {
      return UsageError(err, absl::StrCat("unknown command \"", rest[1], "\""),
                        nullptr);
    }
    PrintCommandUsage(*command, out);
    return 0;
  }
  const Command* command = FindCommand(rest[0]);
  if (command == nullptr) {
    return UsageError(err, absl::StrCat("unknown command \"", rest[0], "\""),
                      nullptr);
  }

  absl::StatusOr<ParsedFlags> flags =
      ParseFlags(rest, 1, WithHelpFlag(*command), command->stop_at_positional);
  if (!flags.ok()) return UsageError(err, flags.status().message(), command);
  if (flags->GetBool("help")) {
    PrintCommandUsage(*command, out);
    return 0;
  }
  size_t count = flags->positional().size();
  if (count < command->min_args || count > command->max_args) {
    return UsageError(
        err,
        absl::StrCat(
            command->name, " takes ",
            command->args_usage.empty() ? "no arguments" : command->args_usage),
        command);
  }

  GlobalOptions options;
  options.stdin_fd = stdin_fd;
  options.runtime_endpoint = globals->Get(
      "runtime-endpoint",
      EnvOr("CONTAINER_RUNTIME_ENDPOINT", kDefaultRuntimeEndpoint));
  options.image_endpoint =
      globals->Get("image-endpoint",
                   EnvOr("IMAGE_SERVICE_ENDPOINT", options.runtime_endpoint));
  if (globals->Has("timeout")) {
    absl::StatusOr<absl::Duration> timeout =
        ParseGoDuration(globals->Get("timeout"));
    if (!timeout.ok()) {
      return UsageError(err, timeout.status().message(), nullptr);
    }
    options.timeout = *timeout;
    options.timeout_set = true;
  }

  Session session(std::move(options));
  CommandContext ctx{command->name, session, *flags, out, err};
  absl::StatusOr<int> result = command->run(ctx);
  out.flush();
  if (!result.ok()) {
    err << "criusctl " << command->name << ": " << result.status().ToString()
        << "\n";
    return kExitFailure;
  }
  return *result;
}

}  // namespace crius::client
