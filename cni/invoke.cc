#include "cni/invoke.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/exec.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"

namespace crius::cni {
namespace {

// Plugins shell out to iptables, ip, tc and friends by name.
constexpr char kPluginPath[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr size_t kStderrExcerpt = 2048;
constexpr CniVersion kCheckVersion{0, 4, 0};

std::string PluginType(const nlohmann::json& plugin) {
  return plugin.value("type", std::string());
}

// How libcni names a plugin in its errors: type="bridge" name="net".
std::string Describe(const NetworkConfigList& list, size_t index, std::string_view command) {
  return absl::StrCat("plugin type=\"", PluginType(list.plugins[index]), "\" name=\"", list.name,
                      "\" failed (", absl::AsciiStrToLower(AbslView(command)), ")");
}

absl::StatusCode CodeForCniError(int64_t code) {
  switch (code) {
    case 1:  // incompatible CNI version
      return absl::StatusCode::kFailedPrecondition;
    case 2:  // unsupported field in the network configuration
    case 4:  // invalid necessary environment variables
    case 6:  // failed to decode content
    case 7:  // invalid network config
      return absl::StatusCode::kInvalidArgument;
    case 3:  // container unknown or does not exist
      return absl::StatusCode::kNotFound;
    case 11:  // try again later
      return absl::StatusCode::kUnavailable;
    default:  // 5 (I/O failure) and plugin-specific codes (100+)
      return absl::StatusCode::kInternal;
  }
}

std::string Tail(std::string_view text) {
  absl::string_view t = absl::StripAsciiWhitespace(AbslView(text));
  if (t.size() > kStderrExcerpt) return absl::StrCat("...", t.substr(t.size() - kStderrExcerpt));
  return std::string(t);
}

struct PluginRun {
  std::string_view command;
  const NetworkConfigList* list;
  size_t index;
  const nlohmann::json* prev_result;
  const RuntimeConf* rt;
  const InvokeOptions* options;
};

// Runs one plugin and returns its stdout, or the failure as a status.
absl::StatusOr<std::string> RunPlugin(const PluginRun& run) {
  const std::string what = Describe(*run.list, run.index, run.command);
  auto path = FindExecutable(PluginType(run.list->plugins[run.index]), run.options->bin_dirs);
  if (!path.ok()) return Annotate(path.status(), what);
  auto env = BuildPluginEnv(run.command, *run.rt, run.options->bin_dirs);
  if (!env.ok()) return Annotate(env.status(), what);
  ExecOptions exec;
  exec.argv = {*path};
  exec.env = std::move(*env);
  exec.stdin_data =
      BuildPluginConfig(*run.list, run.index, run.prev_result, run.rt->capability_args).dump();
  exec.timeout = run.options->timeout;
  CRIUS_LOG(kDebug) << "cni: " << run.command << " " << *path << " container "
                    << run.rt->container_id << " netns " << run.rt->netns;
  const absl::Time start = absl::Now();
  auto result = Exec(exec);
  if (run.options->on_plugin_run) {
    run.options->on_plugin_run(PluginType(run.list->plugins[run.index]), run.command, absl::Now() - start,
                               result.ok() && result->exit_code == 0);
  }
  if (!result.ok()) return Annotate(result.status(), what);
  if (result->exit_code != 0) {
    return PluginFailure(what, result->exit_code, result->signal, result->stdout_data,
                         result->stderr_data);
  }
  return std::move(result->stdout_data);
}

}  // namespace

absl::Status ValidateName(std::string_view what, std::string_view name) {
  auto ok_char = [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  };
  if (name.empty() || !absl::ascii_isalnum(static_cast<unsigned char>(name[0])) ||
      !std::all_of(name.begin(), name.end(), ok_char)) {
    return absl::InvalidArgumentError(absl::StrCat(
        AbslView(what), " \"", absl::CHexEscape(AbslView(name)),
        "\" must start with a letter or digit and hold only letters, digits, '_', '.', '-'"));
  }
  return absl::OkStatus();
}

absl::Status ValidateIfName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 15 && name != "." && name != "..";
  for (char c : name) {
    if (c == '/' || c == ':' || absl::ascii_isspace(static_cast<unsigned char>(c))) ok = false;
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "interface name \"", absl::CHexEscape(AbslView(name)), "\" is not a valid Linux name"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FormatCniArgs(const CniArgs& args) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : args) {
    if (k.empty() || k.find_first_of(";=") != std::string::npos ||
        v.find(';') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("CNI_ARGS entry \"", absl::CHexEscape(absl::StrCat(k, "=", v)),
                       "\" cannot be encoded (';' separates entries, '=' ends the key)"));
    }
    parts.push_back(absl::StrCat(k, "=", v));
  }
  return absl::StrJoin(parts, ";");
}

absl::StatusOr<std::vector<std::string>> BuildPluginEnv(std::string_view command,
                                                        const RuntimeConf& rt,
                                                        const std::vector<std::string>& bin_dirs) {
  ASSIGN_OR_RETURN(std::string args, FormatCniArgs(rt.args));
  return std::vector<std::string>{
      absl::StrCat("CNI_COMMAND=", AbslView(command)),
      absl::StrCat("CNI_CONTAINERID=", rt.container_id),
      absl::StrCat("CNI_NETNS=", rt.netns),
      absl::StrCat("CNI_IFNAME=", rt.if_name),
      absl::StrCat("CNI_ARGS=", args),
      absl::StrCat("CNI_PATH=", absl::StrJoin(bin_dirs, ":")),
      kPluginPath,
  };
}

nlohmann::json BuildPluginConfig(const NetworkConfigList& list, size_t index,
                                 const nlohmann::json* prev_result,
                                 const nlohmann::json& capability_args) {
  nlohmann::json conf = list.plugins[index];
  conf["name"] = list.name;
  conf["cniVersion"] = list.cni_version;
  if (prev_result != nullptr) conf["prevResult"] = *prev_result;
  nlohmann::json runtime = nlohmann::json::object();
  auto caps = conf.find("capabilities");
  if (caps != conf.end() && caps->is_object() && capability_args.is_object()) {
    for (const auto& [name, enabled] : caps->items()) {
      if (!enabled.is_boolean() || !enabled.get<bool>()) continue;
      auto arg = capability_args.find(name);
      if (arg != capability_args.end()) runtime[name] = *arg;
    }
  }
  // As in libcni, a runtimeConfig in the file is only replaced when the
  // runtime has something to say.
  if (!runtime.empty()) conf["runtimeConfig"] = std::move(runtime);
  return conf;
}

absl::Status PluginFailure(std::string_view what, int exit_code, int signal,
                           const std::string& stdout_data, const std::string& stderr_data) {
  std::string msg = absl::StrCat(AbslView(what), ": ");
  absl::StatusCode code = absl::StatusCode::kInternal;
  nlohmann::json err = nlohmann::json::parse(stdout_data, nullptr, /*allow_exceptions=*/false);
  auto cni_code = err.is_object() ? err.find("code") : err.end();
  if (cni_code != err.end() && cni_code->is_number_integer()) {
    code = CodeForCniError(cni_code->get<int64_t>());
    absl::StrAppend(&msg, "CNI error ", cni_code->get<int64_t>(), ": ",
                    err.value("msg", std::string("(no msg)")));
    std::string details = err.value("details", std::string());
    if (!details.empty()) absl::StrAppend(&msg, " (", details, ")");
  } else if (signal != 0) {
    code = absl::StatusCode::kUnknown;
    absl::StrAppend(&msg, "killed by signal ", signal);
  } else {
    absl::StrAppend(&msg, "exited with code ", exit_code);
    std::string out = Tail(stdout_data);
    if (!out.empty()) absl::StrAppend(&msg, "; stdout: ", out);
  }
  std::string err_tail = Tail(stderr_data);
  if (!err_tail.empty()) absl::StrAppend(&msg, "; stderr: ", err_tail);
  return absl::Status(code, msg);
}

absl::StatusOr<CniResult> AddNetworkList(const NetworkConfigList& list, const RuntimeConf& rt,
                                         const InvokeOptions& options) {
  std::optional<CniResult> result;
  for (size_t i = 0; i < list.plugins.size(); ++i) {
    PluginRun run{"ADD", &list, i, result ? &result->raw : nullptr, &rt, &options};
    ASSIGN_OR_RETURN(std::string out, RunPlugin(run));
    auto parsed = ParseCniResultText(out, list.cni_version);
    if (!parsed.ok()) return Annotate(parsed.status(), Describe(list, i, "ADD"));
    result = std::move(*parsed);
  }
  return std::move(*result);
}

absl::Status DelNetworkList(const NetworkConfigList& list, const RuntimeConf& rt,
                            const nlohmann::json* prev_result, const InvokeOptions& options) {
  // prevResult on DEL arrived with 0.4.0; older plugins do not expect it.
  if (!VersionAtLeast(list.cni_version, kCheckVersion)) prev_result = nullptr;
  for (size_t i = list.plugins.size(); i-- > 0;) {
    PluginRun run{"DEL", &list, i, prev_result, &rt, &options};
    RETURN_IF_ERROR(RunPlugin(run).status());
  }
  return absl::OkStatus();
}

absl::Status CheckNetworkList(const NetworkConfigList& list, const RuntimeConf& rt,
                              const nlohmann::json& prev_result, const InvokeOptions& options) {
  if (!VersionAtLeast(list.cni_version, kCheckVersion) || list.disable_check) {
    return absl::OkStatus();
  }
  for (size_t i = 0; i < list.plugins.size(); ++i) {
    PluginRun run{"CHECK", &list, i, &prev_result, &rt, &options};
    RETURN_IF_ERROR(RunPlugin(run).status());
  }
  return absl::OkStatus();
}

}  // namespace crius::cni
