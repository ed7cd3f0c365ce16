#pragma once
// Running CNI plugins for a network list, per the CNI spec and the way
// libcni drives them:
//
//   ADD    each plugin in list order; from the second plugin on, stdin
//          carries the previous plugin's result as "prevResult". The last
//          result is the list's result.
//   DEL    each plugin in reverse order, with the ADD result as prevResult
//          (from 0.4.0 on, when the caller has it). Like libcni, DEL stops at
//          the first plugin that fails and returns its error: the caller
//          keeps its cache entry and retries the whole DEL later, which is
//          safe because plugins must accept a DEL for something already
//          removed. Carrying on past a failure would instead release, say,
//          the IP while the interface still holds it.
//   CHECK  each plugin in order with the ADD result as prevResult; only for
//          0.4.0 and later (OK without running anything for older lists, or
//          for lists with "disableCheck").
//
// Every plugin's stdin is its own config object with the list's "name" and
// "cniVersion" put in, and a "runtimeConfig" holding exactly those of the
// runtime's capability arguments the plugin declares in its
// "capabilities" ({"portMappings": true}). Its environment is CNI_COMMAND,
// CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS ("K=V;K=V"), CNI_PATH (the
// bin dirs joined by ':') and a fixed PATH for the tools plugins run
// (iptables, ip); nothing of the daemon's environment leaks in.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cni/cache.h"
#include "cni/network_config.h"
#include "cni/result.h"
#include "nlohmann/json.hpp"

namespace crius::cni {

// The per-attachment arguments of one invocation (libcni's RuntimeConf).
struct RuntimeConf {
  std::string container_id;
  std::string netns;    // path, e.g. /run/netns/<name>
  std::string if_name;  // e.g. eth0
  CniArgs args;         // becomes CNI_ARGS
  // Keyed by capability name: "portMappings", "bandwidth", "dns", ...
  nlohmann::json capability_args = nlohmann::json::object();
};

// How long one plugin run took and whether it succeeded (plugin type,
// command "ADD"/"DEL"/"CHECK"): for the metrics, without Prometheus here.
using PluginRunObserver =
    std::function<void(std::string_view plugin, std::string_view command, absl::Duration took, bool ok)>;

struct InvokeOptions {
  std::vector<std::string> bin_dirs;           // searched in order
  absl::Duration timeout = absl::Seconds(60);  // per plugin run
  PluginRunObserver on_plugin_run;             // may be empty
};

// The naming rules libcni enforces (the parts end up in cache file names):
// ids and network names start with a letter or digit and hold only letters,
// digits, '_', '.', '-'; an interface name is 1-15 bytes, not "." or "..",
// without '/', ':' or whitespace.
absl::Status ValidateName(std::string_view what, std::string_view name);
absl::Status ValidateIfName(std::string_view name);

// "K=V;K=V". InvalidArgument when a key or value holds ';' or a key '='
// (the plugin would split them differently).
absl::StatusOr<std::string> FormatCniArgs(const CniArgs& args);

// The plugin's complete environment for `command` ("ADD", "DEL", "CHECK").
absl::StatusOr<std::vector<std::string>> BuildPluginEnv(std::string_view command,
                                                        const RuntimeConf& rt,
                                                        const std::vector<std::string>& bin_dirs);

// The stdin object for plugin `index` of `list`. `prev_result` may be null.
nlohmann::json BuildPluginConfig(const NetworkConfigList& list, size_t index,
                                 const nlohmann::json* prev_result,
                                 const nlohmann::json& capability_args);

// Turns a failed run into a status: the CNI error JSON on stdout
// ({"code", "msg", "details"}) decides the code and message, stderr is
// appended. `what` names the plugin and command.
absl::Status PluginFailure(std::string_view what, int exit_code, int signal,
                           const std::string& stdout_data, const std::string& stderr_data);

absl::StatusOr<CniResult> AddNetworkList(const NetworkConfigList& list, const RuntimeConf& rt,
                                         const InvokeOptions& options);

// `prev_result` (may be null) is the cached ADD result.
absl::Status DelNetworkList(const NetworkConfigList& list, const RuntimeConf& rt,
                            const nlohmann::json* prev_result, const InvokeOptions& options);

absl::Status CheckNetworkList(const NetworkConfigList& list, const RuntimeConf& rt,
                              const nlohmann::json& prev_result, const InvokeOptions& options);

}  // namespace crius::cni
