#pragma once
// criusd's configuration: the structs, their built-in defaults, the YAML
// reader that layers files over them, and the final Resolve step.
//
// Loading is layered (see LoadConfig in server/flags.h):
//   DefaultConfig() -> /etc/crius/crius.yaml -> /etc/crius/crius.d/*.yaml -> flags -> Resolve()
// Each YAML layer overrides only the keys it sets. Mappings merge (handlers by
// name, registries by host); scalars and sequences replace. Nothing is derived
// or validated across fields until Resolve, so a later layer may, say, move
// `state` and the handler roots still follow it.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace crius::server {

// One runtime handler, i.e. what a RuntimeClass's `handler` names.
struct RuntimeHandler {
  std::string name;          // the key under runtime.handlers
  std::string path;          // OCI runtime binary; empty => `name` looked up in PATH
  std::string root;          // the runtime's --root; empty => <state>/<name>
  std::string type = "oci";  // only "oci" is supported
  std::string monitor_path;  // conmon for this handler; empty => runtime.monitor_path
  bool operator==(const RuntimeHandler&) const = default;
};

// Per-registry settings, matched by host ("docker.io", "127.0.0.1:5000").
struct RegistryConfig {
  std::string host;
  std::vector<std::string> mirrors;  // "https://mirror.local:5000", tried before `host`
  bool insecure = false;             // allow plain HTTP and skip TLS verification
  std::string ca_file;               // extra CA bundle (PEM) for this host
  bool operator==(const RegistryConfig&) const = default;
};

struct CniConfig {
  std::string conf_dir = "/etc/cni/net.d";
  std::vector<std::string> bin_dirs = {"/opt/cni/bin", "/usr/lib/cni"};
  std::string cache_dir = "/var/lib/cni";
  int64_t plugin_timeout_seconds = 60;
  // Also run the "loopback" plugin for each pod (as CRI-O and containerd
  // do). Off by default: the namespace helper already brings lo up when it
  // creates the pod's network namespace, so the plugin only costs an exec
  // on every ADD and DEL.
  bool loopback_plugin = false;
  bool operator==(const CniConfig&) const = default;
};

struct RuntimeConfig {
  std::string default_handler = "runc";
  std::string monitor_path;  // empty => "conmon" from PATH, else /usr/bin/conmon
  std::map<std::string, RuntimeHandler> handlers;
  // "cgroupfs" or "systemd"; empty => systemd when PID 1 is systemd
  // (/run/systemd/system exists), else cgroupfs (filled by Resolve).
  std::string cgroup_manager;
  bool operator==(const RuntimeConfig&) const = default;
};

struct StreamingConfig {
  std::string address = "127.0.0.1";
  int port = 0;  // 0 => the kernel picks a free port
  int64_t token_ttl_seconds = 60;
  int64_t idle_timeout_seconds = 14400;
  int64_t stream_creation_timeout_seconds = 30;
  // Both set: the server speaks HTTPS with this certificate and key (PEM).
  std::string tls_cert_file;
  std::string tls_key_file;
  bool operator==(const StreamingConfig&) const = default;
};

struct MetricsConfig {
  bool enabled = true;
  // host:port (IPv6 as [::1]:9090), or unix:///path for a unix socket.
  std::string address = "127.0.0.1:9090";
  // The cAdvisor-style per-container series; off for nodes that scrape
  // cAdvisor for them anyway.
  bool per_container = true;
  bool operator==(const MetricsConfig&) const = default;
};

struct EventsConfig {
  // GetContainerEvents: events one subscriber may have waiting before new
  // ones are dropped for it.
  int buffer = 1000;
  bool operator==(const EventsConfig&) const = default;
};

struct ImageConfig {
  int max_concurrent_downloads = 4;
  int64_t pull_progress_timeout_seconds = 60;
  std::string auth_file;  // Docker-style config.json with "auths"; empty => none
  std::vector<RegistryConfig> registries;
  bool operator==(const ImageConfig&) const = default;
};

struct PodConfig {
  // crius's own pause binary; only pods sharing one PID namespace run it.
  std::string infra_path = "/usr/local/libexec/crius/crius-pause";
  std::string infra_handler;  // empty => runtime.default_handler
  int64_t shm_size_bytes = 64 * 1024 * 1024;
  bool operator==(const PodConfig&) const = default;
};

struct Config {
  std::string listen = "unix:///run/crius/crius.sock";
  std::string root = "/var/lib/crius";
  std::string state = "/run/crius";
  std::string log_level = "info";
  int64_t grpc_max_message_bytes = 16 * 1024 * 1024;
  int64_t recovery_timeout_seconds = 300;
  CniConfig cni;
  RuntimeConfig runtime;
  StreamingConfig streaming;
  MetricsConfig metrics;
  EventsConfig events;
  ImageConfig image;
  PodConfig pod;
  bool operator==(const Config&) const = default;

  // The socket path of `listen` (without "unix://"); valid after Resolve.
  std::string ListenPath() const;
};

// The built-in defaults: the struct initialisers above plus the handlers
// `runc` and, when a crun binary is in PATH, `crun`. Paths stay empty here;
// Resolve fills them.
Config DefaultConfig();

// Layers one YAML document over `cfg`. Unknown keys, wrong types and values
// out of range are InvalidArgument naming "<source_name>:<line>" and the full
// key path. On error `cfg` is left unchanged. An empty document is fine.
absl::Status ApplyYaml(std::string_view text, std::string_view source_name, Config* cfg);

// ApplyYaml on a file's contents; a missing file is NotFound.
absl::Status ApplyYamlFile(const std::string& path, Config* cfg);

// Fills what is derived (handler names, paths from PATH, handler roots under
// `state`, monitor paths, the infra handler, the canonical log level name)
// and validates the whole config. Idempotent.
absl::Status Resolve(Config* cfg);

// The config as YAML that ApplyYaml reads back to the same Config (when
// applied over a DefaultConfig()); used by `criusd --print-config`.
std::string ConfigToYaml(const Config& cfg);

// The config as JSON with the same key names, for Status(verbose) info.
nlohmann::json ConfigToJson(const Config& cfg);

}  // namespace crius::server
