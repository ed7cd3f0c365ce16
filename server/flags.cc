#include "server/flags.h"

#include <algorithm>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"

namespace crius::server {
namespace {

// One flag, described once: parsing, --help and the defaults shown there all
// come from this table.
struct FlagSpec {
  absl::string_view name;  // without the leading "--"
  absl::string_view arg;   // the value's placeholder in --help; empty => a switch
  absl::string_view help;
  // The default shown in --help, computed from the built-in defaults.
  std::string (*default_text)(const Flags&, const Config&);
  // Stores the value; switches get an empty value.
  absl::Status (*set)(Flags*, absl::string_view);
};

std::string Quoted(absl::string_view s) { return absl::StrCat("\"", s, "\""); }

absl::Status SetBinDirs(Flags* f, absl::string_view v) {
  for (absl::string_view dir : absl::StrSplit(v, ',')) {
    if (dir.empty()) return absl::InvalidArgumentError("empty directory in list");
    f->cni_bin_dirs.emplace_back(dir);
  }
  return absl::OkStatus();
}

absl::Status SetPort(Flags* f, absl::string_view v) {
  int port = -1;
  if (!absl::SimpleAtoi(v, &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("want a port in 0-65535, got ", Quoted(v)));
  }
  f->streaming_port = port;
  return absl::OkStatus();
}

absl::Status SetLogLevel(Flags* f, absl::string_view v) {
  RETURN_IF_ERROR(log::ParseLevel(StdView(v)).status());
  f->log_level = std::string(v);
  return absl::OkStatus();
}

const std::vector<FlagSpec>& Specs() {
  static const std::vector<FlagSpec> specs = {
      {"config", "PATH", "main config file; may be missing unless given here",
       [](const Flags& f, const Config&) { return Quoted(f.config_path); },
       [](Flags* f, absl::string_view v) {
         f->config_path = std::string(v);
         f->config_path_set = true;
         return absl::OkStatus();
       }},
      {"config-dir", "DIR", "drop-in directory; *.yaml and *.yml applied in name order",
       [](const Flags& f, const Config&) { return Quoted(f.config_dir); },
       [](Flags* f, absl::string_view v) {
         f->config_dir = std::string(v);
         return absl::OkStatus();
       }},
      {"listen", "unix://PATH", "CRI gRPC endpoint [config: listen]",
       [](const Flags&, const Config& c) { return Quoted(c.listen); },
       [](Flags* f, absl::string_view v) {
         f->listen = std::string(v);
         return absl::OkStatus();
       }},
      {"root", "DIR", "persistent state: images, layers, metadata [config: root]",
       [](const Flags&, const Config& c) { return Quoted(c.root); },
       [](Flags* f, absl::string_view v) {
         f->root = std::string(v);
         return absl::OkStatus();
       }},
      {"state", "DIR", "volatile state: bundles, sockets, exit files [config: state]",
       [](const Flags&, const Config& c) { return Quoted(c.state); },
       [](Flags* f, absl::string_view v) {
         f->state = std::string(v);
         return absl::OkStatus();
       }},
      {"log-level", "LEVEL", "debug, info, warn or error [config: log_level]",
       [](const Flags&, const Config& c) { return Quoted(c.log_level); }, SetLogLevel},
      {"cni-conf-dir", "DIR", "CNI network configs [config: cni.conf_dir]",
       [](const Flags&, const Config& c) { return Quoted(c.cni.conf_dir); },
       [](Flags* f, absl::string_view v) {
         f->cni_conf_dir = std::string(v);
         return absl::OkStatus();
       }},
      {"cni-bin-dir", "DIR[,DIR]",
       "CNI plugin dirs; repeatable, replaces the list [config: cni.bin_dirs]",
       [](const Flags&, const Config& c) { return Quoted(absl::StrJoin(c.cni.bin_dirs, ",")); },
       SetBinDirs},
      {"streaming-address", "ADDR", "streaming server address [config: streaming.address]",
       [](const Flags&, const Config& c) { return Quoted(c.streaming.address); },
       [](Flags* f, absl::string_view v) {
         f->streaming_address = std::string(v);
         return absl::OkStatus();
       }},
      {"streaming-port", "PORT", "streaming server port, 0 = random [config: streaming.port]",
       [](const Flags&, const Config& c) { return absl::StrCat(c.streaming.port); }, SetPort},
      {"metrics-address", "HOST:PORT", "Prometheus /metrics address [config: metrics.address]",
       [](const Flags&, const Config& c) { return Quoted(c.metrics.address); },
       [](Flags* f, absl::string_view v) {
         f->metrics_address = std::string(v);
         return absl::OkStatus();
       }},
      {"default-runtime", "NAME", "default runtime handler [config: runtime.default_handler]",
       [](const Flags&, const Config& c) { return Quoted(c.runtime.default_handler); },
       [](Flags* f, absl::string_view v) {
         f->default_runtime = std::string(v);
         return absl::OkStatus();
       }},
      {"print-config", "", "print the effective config as YAML and exit",
       [](const Flags&, const Config&) { return std::string("false"); },
       [](Flags* f, absl::string_view) {
         f->print_config = true;
         return absl::OkStatus();
       }},
      {"version", "", "print the version and exit",
       [](const Flags&, const Config&) { return std::string("false"); },
       [](Flags* f, absl::string_view) {
         f->version = true;
         return absl::OkStatus();
       }},
      {"list-failpoints", "", "print every crash point CRIUS_FAILPOINT can arm, one per line, and exit",
       [](const Flags&, const Config&) { return std::string("false"); },
       [](Flags* f, absl::string_view) {
         f->list_failpoints = true;
         return absl::OkStatus();
       }},
      {"help", "", "print this help and exit (also -h",
       [](const Flags&, const Config&) { return std::string("false"); },
       [](Flags* f, absl::string_view) {
         f->help = true;
         return absl::OkStatus();
       }},
  };
  return specs;
}

const FlagSpec* FindSpec(absl::string_view name) {
  for (const FlagSpec& s : Specs()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

void ApplyFlags(const Flags& f, Config* c) {
  if (f.listen) c->listen = *f.listen;
  if (f.root) c->root = *f.root;
  if (f.state) c->state = *f.state;
  if (f.log_level) c->log_level = *f.log_level;
  if (f.cni_conf_dir) c->cni.conf_dir = *f.cni_conf_dir;
  if (!f.cni_bin_dirs.empty()) c->cni.bin_dirs = f.cni_bin_dirs;
  if (f.streaming_address) c->streaming.address = *f.streaming_address;
  if (f.streaming_port) c->streaming.port = *f.streaming_port;
  if (f.metrics_address) c->metrics.address = *f.metrics_address;
  if (f.default_runtime) c->runtime.default_handler = *f.default_runtime;
}

// The drop-ins of `dir` in byte order of their names. A missing directory
// simply has none.
absl::StatusOr<std::vector<std::string>> ListDropIns(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec == std::errc::no_such_file_or_directory) return std::vector<std::string>{};
  if (ec) return ErrnoStatus(ec.value(), absl::StrCat("read config dir ", dir));
  std::vector<std::string> names;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    // Dotfiles are editor leftovers or a ConfigMap volume's "..data" links.
    if (absl::StartsWith(name, ".")) continue;
    if (!absl::EndsWith(name, ".yaml") && !absl::EndsWith(name, ".yml")) continue;
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;  // follows symlinks
    names.push_back(std::move(name));
  }
  if (ec) return ErrnoStatus(ec.value(), absl::StrCat("read config dir ", dir));
  std::sort(names.begin(), names.end());
  std::vector<std::string> paths;
  for (const std::string& name : names) paths.push_back((fs::path(dir) / name).string());
  return paths;
}

}  // namespace

absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "-h") arg = "--help";
    if (!absl::StartsWith(arg, "--") || arg == "--") {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument ", Quoted(arg),
                                                     " (criusd takes only flags; see --help)"));
    }
    absl::string_view name = arg.substr(2);
    std::optional<absl::string_view> value;
    if (size_t eq = name.find('='); eq != absl::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const FlagSpec* spec = FindSpec(name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    if (spec->arg.empty()) {
      if (value)
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " takes no value"));
      value = "";
    } else if (!value) {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
      value = argv[++i];
    }
    RETURN_IF_ERROR(Annotate(spec->set(&flags, *value), absl::StrCat("flag --", name)));
  }
  return flags;
}

std::string FlagsHelp() {
  const Flags flags;
  const Config defaults = DefaultConfig();
  std::string out =
      "Usage: criusd [flags]\n"
      "\n"
      "crius is a Kubernetes CRI server. Settings come from built-in defaults, then the\n"
      "config file, then the drop-in directory, then these flags; --print-config shows the "
      "result.\n"
      "\n"
      "Flags:\n";
  for (const FlagSpec& s : Specs()) {
    std::string left = absl::StrCat("  --", s.name);
    if (!s.arg.empty()) absl::StrAppend(&left, " ", s.arg);
    // Two lines per flag: what it does, then its default, both aligned.
    const std::string indent(30, ' ');
    if (left.size() < indent.size()) {
      left.resize(indent.size(), ' ');
    } else {
      absl::StrAppend(&left, "\n", indent);
    }
    absl::StrAppend(&out, left, s.help, "\n", indent, "default: ", s.default_text(flags, defaults),
                    "\n");
  }
  return out;
}

absl::StatusOr<Config> LoadConfig(const Flags& flags) {
  Config cfg = DefaultConfig();
  absl::Status s = ApplyYamlFile(flags.config_path, &cfg);
  // A node needs no config file at all; but a file named on the command
  // line that is not there is almost certainly a mistake.
  if (!s.ok() && !(absl::IsNotFound(s) && !flags.config_path_set)) return s;
  ASSIGN_OR_RETURN(std::vector<std::string> dropins, ListDropIns(flags.config_dir));
  for (const std::string& path : dropins) RETURN_IF_ERROR(ApplyYamlFile(path, &cfg));
  ApplyFlags(flags, &cfg);
  RETURN_IF_ERROR(Resolve(&cfg));
  return cfg;
}

}  // namespace crius::server
