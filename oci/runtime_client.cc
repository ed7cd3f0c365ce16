#include "oci/runtime_client.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/status.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "common/unique_fd.h"

namespace crius::oci {
namespace {

using nlohmann::json;

// The runtime needs no environment of ours; PATH only matters for the
// helpers some runtimes look up (e.g. criu).
const std::vector<std::string> kRuntimeEnv = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};

// How a runtime command relates to an existing container, which decides
// whether a failure can mean "no such container".
enum class Target { kExisting, kNew };

bool ContainsAny(std::string_view text, std::initializer_list<std::string_view> needles) {
  for (auto n : needles) {
    if (absl::StrContains(AbslView(text), AbslView(n))) return true;
  }
  return false;
}

absl::StatusOr<ContainerState> StateFromJson(const json& j) {
  if (!j.is_object()) return absl::InternalError("runtime state is not a JSON object");
  ContainerState s;
  s.id = j.value("id", "");
  s.status = j.value("status", "");
  s.bundle = j.value("bundle", "");
  s.rootfs = j.value("rootfs", "");
  s.created = j.value("created", "");
  const int64_t pid = j.value("pid", int64_t{0});
  if (pid < 0 || pid > INT32_MAX) return absl::InternalError(absl::StrCat("bad pid ", pid));
  s.pid = static_cast<pid_t>(pid);
  if (j.contains("annotations") && j["annotations"].is_object()) {
    for (const auto& [k, v] : j["annotations"].items()) {
      if (v.is_string()) s.annotations[k] = v.get<std::string>();
    }
  }
  if (s.id.empty() || s.status.empty()) {
    return absl::InternalError("runtime state lacks id or status");
  }
  return s;
}

// A private log file for one runtime call, removed when done.
class CallLog {
 public:
  explicit CallLog(const std::string& dir) {
    std::string templ = JoinPath(dir, ".crius-runtime-XXXXXX.log");
    int fd = ::mkstemps(templ.data(), 4);
    if (fd < 0) {
      status_ = ErrnoStatus(absl::StrCat("create runtime log in ", dir));
      return;
    }
    ::close(fd);
    path_ = templ;
  }
  ~CallLog() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  CallLog(const CallLog&) = delete;
  CallLog& operator=(const CallLog&) = delete;

  const absl::Status& status() const { return status_; }
  const std::string& path() const { return path_; }
  // The error text the runtime logged, empty when it logged no error.
  std::string Errors() const {
    auto text = ReadFile(path_, 1 << 20);
    if (!text.ok()) return "";
    return RuntimeErrorText(*text);
  }

 private:
  std::string path_;
  absl::Status status_;
};

// A runtime that cannot be started at all must not read as "no such
// container" (NotFound), which callers take as "already gone".
absl::Status SpawnError(const absl::Status& s, const std::vector<std::string>& argv) {
  if (absl::IsDeadlineExceeded(s)) return s;
  return absl::FailedPreconditionError(
      absl::StrCat("cannot run OCI runtime: ", DescribeArgv(argv), ": ", s.message()));
}

// SIGKILLs the process whose pid `runc exec --pid-file` wrote, called right
// after `runc exec` was killed on a timeout. The process was alive then (the
// command was still running), and pids are handed out in sequence up to
// pid_max, so the pid cannot have been reused in the moment since; the
// pidfd pins it from here on. A missing or empty file means runc never
// started the process.
void KillExecProcess(const std::string& pid_file) {
  auto text = ReadFile(pid_file, 64);
  int pid = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) || pid <= 1) return;
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) return;  // already gone
  ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
}

}  // namespace

absl::Status ValidateContainerId(const std::string& id) {
  if (id.empty() || id.size() > 1024 || id == "." || id == "..") {
    return absl::InvalidArgumentError(absl::StrCat("invalid container id \"", id, "\""));
  }
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '+' && c != '-' &&
        c != '.') {
      return absl::InvalidArgumentError(absl::StrCat("invalid container id \"", id, "\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ContainerState> ParseContainerState(const std::string& json_text) {
  try {
    return StateFromJson(json::parse(json_text));
  } catch (const json::exception& e) {
    return absl::InternalError(absl::StrCat("parse runtime state: ", e.what()));
  }
}

std::string RuntimeErrorText(const std::string& output) {
  std::string errors;
  for (absl::string_view line : absl::StrSplit(output, '\n', absl::SkipWhitespace())) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() != '{') continue;
    json j = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) continue;
    const std::string level = j.value("level", "");
    if (level != "error" && level != "fatal" && level != "panic") continue;
    if (!errors.empty()) errors += "; ";
    errors += j.value("msg", "");
  }
  if (!errors.empty()) return errors;
  // No JSON: a runtime that ignored --log-format, or a crash.
  return std::string(absl::StripAsciiWhitespace(output));
}

RuntimeClient::RuntimeClient(RuntimeClientOptions options) : options_(std::move(options)) {}

std::vector<std::string> RuntimeClient::Argv(const std::vector<std::string>& args,
                                             const std::vector<std::string>& global) const {
  std::vector<std::string> argv = {options_.path};
  if (!options_.root.empty()) {
    argv.push_back("--root");
    argv.push_back(options_.root);
  }
  argv.push_back("--log-format");
  argv.push_back("json");
  argv.insert(argv.end(), global.begin(), global.end());
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

bool RuntimeClient::MayExist(const std::string& id) const {
  return options_.root.empty() || StateDirExists(id);
}

bool RuntimeClient::StateDirExists(const std::string& id) const {
  struct stat st;
  return ::stat(JoinPath(options_.root, id).c_str(), &st) == 0;
}

absl::Status RuntimeClient::Classify(const std::string& id, const std::vector<std::string>& argv,
                                     const ExecResult& result, const std::string& error_text) {
  const std::string how = result.signal != 0 ? absl::StrCat("killed by ", SignalName(result.signal))
                                             : absl::StrCat("exit code ", result.exit_code);
  const std::string message = absl::StrCat(DescribeArgv(argv), ": ", how, ": ",
                                           error_text.empty() ? "(no error output)" : error_text);
  // The runtime's state directory is the authority on existence; the
  // message check covers a client configured without --root.
  const bool missing = options_.root.empty()
                           ? ContainsAny(error_text, {"does not exist", "not found"})
                           : !StateDirExists(id);
  if (missing) return absl::NotFoundError(message);
  if (ContainsAny(error_text, {"not running", "not stopped", "already running", "has stopped",
                               "cannot start", "container is paused", "not paused"})) {
    return absl::FailedPreconditionError(message);
  }
  return absl::InternalError(message);
}

absl::StatusOr<ExecResult> RuntimeClient::RunCaptured(const std::string& id,
                                                      std::vector<std::string> args,
                                                      std::string stdin_data,
                                                      absl::Duration timeout) {
  RETURN_IF_ERROR(ValidateContainerId(id));
  ExecOptions o;
  o.argv = Argv(args);
  o.env = kRuntimeEnv;
  o.stdin_data = std::move(stdin_data);
  o.timeout = timeout == absl::ZeroDuration() ? options_.timeout : timeout;
  absl::StatusOr<ExecResult> r = Exec(o);
  if (!r.ok()) return SpawnError(r.status(), o.argv);
  if (r->exit_code != 0) {
    return Classify(id, o.argv, *r, RuntimeErrorText(r->stderr_data));
  }
  return r;
}

absl::Status RuntimeClient::RunDetached(const std::string& id, const std::string& bundle,
                                        std::vector<std::string> args) {
  RETURN_IF_ERROR(ValidateContainerId(id));
  CallLog log(bundle);
  RETURN_IF_ERROR(log.status());
  SubprocessOptions o;
  o.argv = Argv(args, {"--log", log.path()});
  o.env = kRuntimeEnv;
  o.stdout_path = "/dev/null";
  o.stderr_path = "/dev/null";
  absl::StatusOr<Subprocess> started = Subprocess::Start(o);
  if (!started.ok()) return SpawnError(started.status(), o.argv);
  Subprocess child = std::move(started).value();
  absl::StatusOr<int> status = child.Wait(options_.timeout);
  if (absl::IsDeadlineExceeded(status.status())) {
    (void)child.Signal(SIGKILL);
    (void)child.Wait();
    std::string errors = log.Errors();
    return absl::DeadlineExceededError(absl::StrCat(DescribeArgv(o.argv), ": killed after ",
                                                    absl::FormatDuration(options_.timeout),
                                                    errors.empty() ? "" : ": ", errors));
  }
  RETURN_IF_ERROR(status.status());
  ExecResult result;
  if (WIFEXITED(*status)) {
    result.exit_code = WEXITSTATUS(*status);
  } else if (WIFSIGNALED(*status)) {
    result.signal = WTERMSIG(*status);
  }
  if (result.exit_code == 0) return absl::OkStatus();
  std::string errors = log.Errors();
  // A create that failed never made the container: its absence is not
  // the caller's "no such container".
  absl::Status s = Classify(id, o.argv, result, errors);
  if (absl::IsNotFound(s)) return absl::InternalError(s.message());
  if (ContainsAny(errors, {"already exists", "exists:"}))
    return absl::AlreadyExistsError(s.message());
  return s;
}

absl::Status RuntimeClient::Create(const std::string& id, const std::string& bundle,
                                   const std::string& pid_file,
                                   const std::optional<std::string>& console_socket) {
  std::vector<std::string> args = {"create", "--bundle", bundle, "--pid-file", pid_file};
  if (console_socket) {
    args.push_back("--console-socket");
    args.push_back(*console_socket);
  }
  args.push_back(id);
  return RunDetached(id, bundle, std::move(args));
}

absl::Status RuntimeClient::Start(const std::string& id) {
  return RunCaptured(id, {"start", id}).status();
}

absl::StatusOr<ExecResult> RuntimeClient::Run(const std::string& id, const std::string& bundle,
                                              const std::string& pid_file, bool detach) {
  if (detach) {
    RETURN_IF_ERROR(RunDetached(
        id, bundle, {"run", "--detach", "--bundle", bundle, "--pid-file", pid_file, id}));
    ExecResult started;
    started.exit_code = 0;
    return started;
  }
  // In the foreground the exit code is the container's, so the runtime's own
  // failures are told apart by what it logged.
  RETURN_IF_ERROR(ValidateContainerId(id));
  CallLog log(bundle);
  RETURN_IF_ERROR(log.status());
  ExecOptions o;
  o.argv = Argv({"run", "--bundle", bundle, "--pid-file", pid_file, id}, {"--log", log.path()});
  o.env = kRuntimeEnv;
  o.timeout = options_.timeout;
  absl::StatusOr<ExecResult> r = Exec(o);
  if (!r.ok()) return SpawnError(r.status(), o.argv);
  std::string errors = log.Errors();
  if (!errors.empty()) {
    absl::Status s = Classify(id, o.argv, *r, errors);
    if (absl::IsNotFound(s)) return absl::InternalError(s.message());
    return s;
  }
  return r;
}

absl::Status RuntimeClient::Kill(const std::string& id, int signal, bool all) {
  std::vector<std::string> args = {"kill"};
  if (all) args.push_back("--all");
  args.push_back(id);
  args.push_back(absl::StrCat(signal));
  return RunCaptured(id, std::move(args)).status();
}

absl::Status RuntimeClient::Delete(const std::string& id, bool force) {
  RETURN_IF_ERROR(ValidateContainerId(id));
  // `runc delete --force` of an unknown id exits 0; ask the state dir first
  // so callers still learn the container was not there.
  if (!options_.root.empty() && !StateDirExists(id)) {
    return absl::NotFoundError(
        absl::StrCat("container ", id, " does not exist in ", options_.root));
  }
  std::vector<std::string> args = {"delete"};
  if (force) args.push_back("--force");
  args.push_back(id);
  return RunCaptured(id, std::move(args)).status();
}

absl::StatusOr<ContainerState> RuntimeClient::State(const std::string& id) {
  ASSIGN_OR_RETURN(ExecResult r, RunCaptured(id, {"state", id}));
  absl::StatusOr<ContainerState> state = ParseContainerState(r.stdout_data);
  if (!state.ok()) return Annotate(state.status(), absl::StrCat("state of ", id));
  return state;
}

absl::StatusOr<std::vector<ContainerState>> RuntimeClient::List() {
  ExecOptions o;
  o.argv = Argv({"list", "--format", "json"});
  o.env = kRuntimeEnv;
  o.timeout = options_.timeout;
  o.max_output = size_t{64} << 20;
  absl::StatusOr<ExecResult> r = Exec(o);
  if (!r.ok()) return SpawnError(r.status(), o.argv);
  if (r->exit_code != 0) {
    return absl::InternalError(absl::StrCat(DescribeArgv(o.argv), ": exit code ", r->exit_code,
                                            ": ", RuntimeErrorText(r->stderr_data)));
  }
  std::vector<ContainerState> out;
  try {
    json j = json::parse(r->stdout_data);
    if (j.is_null()) return out;  // runc prints "null" for no containers
    if (!j.is_array()) return absl::InternalError("runtime list is not a JSON array");
    for (const auto& item : j) {
      ASSIGN_OR_RETURN(ContainerState s, StateFromJson(item));
      out.push_back(std::move(s));
    }
  } catch (const json::exception& e) {
    return absl::InternalError(absl::StrCat("parse runtime list: ", e.what()));
  }
  return out;
}

absl::Status RuntimeClient::Update(const std::string& id, const nlohmann::json& resources) {
  std::string text;
  try {
    text = resources.dump();
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("resources: ", e.what()));
  }
  return RunCaptured(id, {"update", "--resources", "-", id}, std::move(text)).status();
}

absl::StatusOr<ExecResult> RuntimeClient::ExecProcess(const std::string& id,
                                                      const nlohmann::json& process,
                                                      const std::string& process_file_dir,
                                                      absl::Duration timeout,
                                                      size_t max_output) {
  RETURN_IF_ERROR(ValidateContainerId(id));
  if (!options_.root.empty() && !StateDirExists(id)) {
    return absl::NotFoundError(
        absl::StrCat("container ", id, " does not exist in ", options_.root));
  }
  std::string text;
  try {
    text = process.dump();
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("process: ", e.what()));
  }
  CallLog log(process_file_dir);
  RETURN_IF_ERROR(log.status());
  const std::string process_file = log.path() + ".process.json";
  const std::string pid_file = log.path() + ".pid";
  // Read once by the runtime and removed below: never fsynced.
  RETURN_IF_ERROR(WriteFileAtomic(process_file, text, 0600, Durability::kProcessCrash));
  ExecOptions o;
  o.argv = Argv({"exec", "--process", process_file, "--pid-file", pid_file, id},
                {"--log", log.path()});
  o.env = kRuntimeEnv;
  o.timeout = timeout == absl::ZeroDuration() ? options_.timeout : timeout;
  o.max_output = max_output;
  absl::StatusOr<ExecResult> r = Exec(o);
  ::unlink(process_file.c_str());
  // Killing `runc exec` on a timeout orphans the process it started inside
  // the container; it must not outlive the call (a hung probe would pile up
  // one process per period).
  if (!r.ok() && absl::IsDeadlineExceeded(r.status())) KillExecProcess(pid_file);
  ::unlink(pid_file.c_str());
  if (!r.ok()) return SpawnError(r.status(), o.argv);
  std::string errors = log.Errors();
  if (!errors.empty()) return Classify(id, o.argv, *r, errors);
  return r;
}

}  // namespace crius::oci
