#include "server/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "yaml-cpp/yaml.h"

namespace crius::server {
namespace {

// Debian's abseil has its own absl::string_view (see common/strings.h), so
// everything inside this file speaks absl::string_view and converts at the
// public functions.

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();
// Durations are whole seconds; capping them at ten years keeps every value
// convertible to nanoseconds without overflow.
constexpr int64_t kMaxSeconds = int64_t{10} * 365 * 24 * 3600;

// Inclusive bounds of an integer key.
struct Range {
  int64_t min;
  int64_t max;
};
constexpr Range kSeconds{1, kMaxSeconds};
constexpr Range kBytes{1, kMaxInt64};

std::string RangeMessage(absl::string_view key, int64_t v, Range r) {
  if (r.max == kMaxInt64) return absl::StrCat("\"", key, "\" must be >= ", r.min, ", got ", v);
  return absl::StrCat("\"", key, "\" must be between ", r.min, " and ", r.max, ", got ", v);
}

// ---------------------------------------------------------------------------
// The schema, written once. Every reader and writer below walks these
// functions, so a key added here is parsed, printed, exported as JSON and
// range-checked alike, and --print-config can never forget one.
// A visitor provides Field(key, string&), Field(key, bool&),
// Field(key, vector<string>&), Field(key, integer&, Range), Section(key, fn),
// Handlers(key, map&) and Registries(key, vector&).

template <typename V>
void VisitHandler(V& v, RuntimeHandler& h) {
  v.Field("path", h.path);
  v.Field("root", h.root);
  v.Field("type", h.type);
  v.Field("monitor_path", h.monitor_path);
}

template <typename V>
void VisitRegistry(V& v, RegistryConfig& r) {
  v.Field("host", r.host);
  v.Field("mirrors", r.mirrors);
  v.Field("insecure", r.insecure);
  v.Field("ca_file", r.ca_file);
}

template <typename V>
void VisitConfig(V& v, Config& c) {
  v.Field("listen", c.listen);
  v.Field("root", c.root);
  v.Field("state", c.state);
  v.Field("log_level", c.log_level);
  // gRPC takes the limit as an int.
  v.Field("grpc_max_message_bytes", c.grpc_max_message_bytes,
          Range{1, std::numeric_limits<int32_t>::max()});
  v.Field("recovery_timeout_seconds", c.recovery_timeout_seconds, kSeconds);
  v.Section("cni", [&] {
    v.Field("conf_dir", c.cni.conf_dir);
    v.Field("bin_dirs", c.cni.bin_dirs);
    v.Field("cache_dir", c.cni.cache_dir);
    v.Field("plugin_timeout_seconds", c.cni.plugin_timeout_seconds, kSeconds);
    v.Field("loopback_plugin", c.cni.loopback_plugin);
  });
  v.Section("runtime", [&] {
    v.Field("default_handler", c.runtime.default_handler);
    v.Field("monitor_path", c.runtime.monitor_path);
    v.Field("cgroup_manager", c.runtime.cgroup_manager);
    v.Handlers("handlers", c.runtime.handlers);
  });
  v.Section("streaming", [&] {
    v.Field("address", c.streaming.address);
    v.Field("port", c.streaming.port, Range{0, 65535});
    v.Field("token_ttl_seconds", c.streaming.token_ttl_seconds, kSeconds);
    v.Field("idle_timeout_seconds", c.streaming.idle_timeout_seconds, kSeconds);
    v.Field("stream_creation_timeout_seconds", c.streaming.stream_creation_timeout_seconds,
            kSeconds);
    v.Field("tls_cert_file", c.streaming.tls_cert_file);
    v.Field("tls_key_file", c.streaming.tls_key_file);
  });
  v.Section("metrics", [&] {
    v.Field("enabled", c.metrics.enabled);
    v.Field("address", c.metrics.address);
    v.Field("per_container", c.metrics.per_container);
  });
  v.Section("events", [&] { v.Field("buffer", c.events.buffer, Range{1, 1000000}); });
  v.Section("image", [&] {
    v.Field("max_concurrent_downloads", c.image.max_concurrent_downloads, Range{1, 1024});
    v.Field("pull_progress_timeout_seconds", c.image.pull_progress_timeout_seconds, kSeconds);
    v.Field("auth_file", c.image.auth_file);
    v.Registries("registries", c.image.registries);
  });
  v.Section("pod", [&] {
    v.Field("infra_path", c.pod.infra_path);
    v.Field("infra_handler", c.pod.infra_handler);
    v.Field("shm_size_bytes", c.pod.shm_size_bytes, kBytes);
  });
}

// Handler names become directory names (<state>/<name>) and RuntimeClass
// handler strings, so they are kept to a safe, DNS-label-like alphabet.
absl::Status CheckHandlerName(absl::string_view name) {
  if (name.empty() || name.size() > 63 || name[0] == '.' || name[0] == '-') {
    return absl::InvalidArgumentError(absl::StrCat(
        "handler name \"", name, "\" must be 1-63 characters and not start with . or -"));
  }
  for (char ch : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' &&
        ch != '.') {
      return absl::InvalidArgumentError(absl::StrCat(
          "handler name \"", name, "\" may hold only letters, digits, '-', '_' and '.'"));
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Reading YAML.

// A short description of what was found where something else was expected.
std::string Describe(const YAML::Node& n) {
  if (n.IsNull()) return "null";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a mapping";
  std::string s = n.Scalar();
  if (s.size() > 40) s = s.substr(0, 40) + "...";
  return absl::StrCat("\"", s, "\"");
}

// A plain decimal integer: digits with an optional leading '-'. Stricter than
// SimpleAtoi, which would also take "+1" and surrounding spaces.
bool ParseDecimal(absl::string_view s, int64_t* out) {
  absl::string_view digits = absl::StartsWith(s, "-") ? s.substr(1) : s;
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit)) {
    return false;
  }
  return absl::SimpleAtoi(s, out);
}

// Quoted scalars carry the tag "!"; a quoted "10" is a string, not a number.
bool IsPlainScalar(const YAML::Node& n) { return n.IsScalar() && n.Tag() != "!"; }

bool IsMapOrNull(const YAML::Node& n) { return n.IsMap() || n.IsNull(); }

class YamlReader {
 public:
  explicit YamlReader(absl::string_view source) : source_(source) {}

  // The earliest error by line, so the user fixes the file top to bottom.
  absl::Status status() const {
    if (errors_.empty()) return absl::OkStatus();
    auto first = std::min_element(errors_.begin(), errors_.end(),
                                  [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string msg = first->second;
    if (size_t more = errors_.size() - 1; more > 0) {
      absl::StrAppend(&msg, " (and ", more, more == 1 ? " more error)" : " more errors)");
    }
    return absl::InvalidArgumentError(msg);
  }

  // Reads the mapping `node` with `fn`, then rejects the keys fn did not
  // ask for. `prefix` is the key path of the mapping ("cni.").
  template <typename Fn>
  void Nested(const YAML::Node& node, std::string prefix, Fn fn) {
    const YAML::Node* saved_node = node_;
    std::string saved_prefix = std::exchange(prefix_, std::move(prefix));
    std::vector<std::string> saved_known = std::exchange(known_, {});
    node_ = &node;
    fn();
    CheckKeys();
    node_ = saved_node;
    prefix_ = std::move(saved_prefix);
    known_ = std::move(saved_known);
  }

  void Field(absl::string_view key, std::string& out) {
    std::optional<Entry> e = Find(key);
    if (!e) return;
    if (!e->value.IsScalar()) return TypeError(*e, key, "a string");
    out = e->value.Scalar();
  }

  void Field(absl::string_view key, bool& out) {
    std::optional<Entry> e = Find(key);
    if (!e) return;
    if (IsPlainScalar(e->value)) {
      std::string s = absl::AsciiStrToLower(e->value.Scalar());
      if (s == "true" || s == "false") {
        out = s == "true";
        return;
      }
    }
    TypeError(*e, key, "true or false");
  }

  template <typename Int>
  void Field(absl::string_view key, Int& out, Range range) {
    std::optional<Entry> e = Find(key);
    if (!e) return;
    int64_t v = 0;
    if (!IsPlainScalar(e->value) || !ParseDecimal(e->value.Scalar(), &v)) {
      return TypeError(*e, key, "an integer");
    }
    if (v < range.min || v > range.max) {
      return Fail(e->value, e->key, RangeMessage(Path(key), v, range));
    }
    out = static_cast<Int>(v);
  }

  // Sequences replace what an earlier layer set.
  void Field(absl::string_view key, std::vector<std::string>& out) {
    std::optional<Entry> e = Find(key);
    if (!e) return;
    if (!e->value.IsSequence()) return TypeError(*e, key, "a list of strings");
    std::vector<std::string> items;
    for (const auto& it : e->value) {
      YAML::Node item = it;
      if (!item.IsScalar()) {
        return Fail(item, e->key,
                    absl::StrCat("\"", Path(key), "[", items.size(), "]\" must be a string, got ",
                                 Describe(item)));
      }
      items.push_back(item.Scalar());
    }
    out = std::move(items);
  }

  template <typename Fn>
  void Section(absl::string_view key, Fn fn) {
    std::optional<Entry> e = Find(key);
    if (!e) return;
    if (!IsMapOrNull(e->value)) return TypeError(*e, key, "a mapping");
    Nested(e->value, absl::StrCat(Path(key), "."), fn);
  }

  // Handlers merge by name: a layer naming an existing handler overrides
  // only the keys it sets; a new name starts from the handler defaults.
  void Handlers(absl::string_view key, std::map<std::string, RuntimeHandler>& out) {
    std::optional<Entry> e = Find(key);
    if (!e) return;
    if (!IsMapOrNull(e->value)) return TypeError(*e, key, "a mapping of handler names");
    std::set<std::string> seen;
    for (const auto& it : e->value) {
      YAML::Node name_node = it.first;
      YAML::Node value = it.second;
      if (!name_node.IsScalar()) {
        Fail(name_node, name_node, absl::StrCat("\"", Path(key), "\" keys must be handler names"));
        continue;
      }
      const std::string name = name_node.Scalar();
      const std::string path = absl::StrCat(Path(key), ".", name);
      if (absl::Status s = CheckHandlerName(name); !s.ok()) {
        Fail(name_node, name_node, absl::StrCat("\"", path, "\": ", s.message()));
        continue;
      }
      if (!seen.insert(name).second) {
        Fail(name_node, name_node, absl::StrCat("duplicate key \"", path, "\""));
        continue;
      }
      if (!IsMapOrNull(value)) {
        Fail(value, name_node,
             absl::StrCat("\"", path, "\" must be a mapping, got ", Describe(value)));
        continue;
      }
      RuntimeHandler& h = out[name];
      h.name = name;
      Nested(value, path + ".", [&] { VisitHandler(*this, h); });
    }
  }

  // Registries merge by host, like handlers by name.
  void Registries(absl::string_view key, std::vector<RegistryConfig>& out) {
    std::optional<Entry> e = Find(key);
    if (!e) return;
    if (!e->value.IsSequence() && !e->value.IsNull()) {
      return TypeError(*e, key, "a list of registries");
    }
    std::set<std::string> seen;
    size_t index = 0;
    for (const auto& it : e->value) {
      YAML::Node item = it;
      const std::string path = absl::StrCat(Path(key), "[", index++, "]");
      if (!item.IsMap()) {
        Fail(item, e->key, absl::StrCat("\"", path, "\" must be a mapping, got ", Describe(item)));
        continue;
      }
      // Looked up through a const node: yaml-cpp's non-const operator[]
      // would insert the key.
      const YAML::Node host = std::as_const(item)["host"];
      if (!host || !host.IsScalar() || host.Scalar().empty()) {
        Fail(item, e->key, absl::StrCat("\"", path, ".host\" must be set to a registry host"));
        continue;
      }
      if (!seen.insert(host.Scalar()).second) {
        Fail(host, item,
             absl::StrCat("\"", path, ".host\": registry \"", host.Scalar(), "\" is listed twice"));
        continue;
      }
      auto existing = std::find_if(
          out.begin(), out.end(), [&](const RegistryConfig& r) { return r.host == host.Scalar(); });
      size_t slot = existing - out.begin();
      if (existing == out.end()) {
        out.emplace_back();
        out.back().host = host.Scalar();
      }
      Nested(item, path + ".", [&] { VisitRegistry(*this, out[slot]); });
    }
  }

 private:
  struct Entry {
    YAML::Node key;
    YAML::Node value;
  };

  std::string Path(absl::string_view key) const { return absl::StrCat(prefix_, key); }

  std::optional<Entry> Find(absl::string_view key) {
    known_.emplace_back(key);
    if (node_ == nullptr || !node_->IsMap()) return std::nullopt;
    for (const auto& it : *node_) {
      if (it.first.IsScalar() && it.first.Scalar() == key) return Entry{it.first, it.second};
    }
    return std::nullopt;
  }

  void TypeError(const Entry& e, absl::string_view key, absl::string_view want) {
    Fail(e.value, e.key,
         absl::StrCat("\"", Path(key), "\" must be ", want, ", got ", Describe(e.value)));
  }

  // Points at `at`, or at `fallback` when `at` has no position: yaml-cpp
  // places an empty value ("key:") on the following line.
  void Fail(const YAML::Node& at, const YAML::Node& fallback, absl::string_view msg) {
    YAML::Mark mark = at.IsNull() ? fallback.Mark() : at.Mark();
    if (mark.is_null()) mark = fallback.Mark();
    int line = mark.is_null() ? 0 : mark.line + 1;
    errors_.emplace_back(line, absl::StrCat(source_, ":", line, ": ", msg));
  }

  void CheckKeys() {
    if (node_ == nullptr || !node_->IsMap()) return;
    std::set<std::string> seen;
    for (const auto& it : *node_) {
      YAML::Node k = it.first;
      if (!k.IsScalar()) {
        Fail(k, k, absl::StrCat("keys must be strings, got ", Describe(k)));
        continue;
      }
      const std::string& name = k.Scalar();
      if (std::find(known_.begin(), known_.end(), name) == known_.end()) {
        Fail(k, k, absl::StrCat("unknown key \"", prefix_, name, "\""));
      } else if (!seen.insert(name).second) {
        Fail(k, k, absl::StrCat("duplicate key \"", prefix_, name, "\""));
      }
    }
  }

  std::string source_;
  const YAML::Node* node_ = nullptr;
  std::string prefix_;
  std::vector<std::string> known_;
  std::vector<std::pair<int, std::string>> errors_;
};

// ---------------------------------------------------------------------------
// Writing YAML and JSON.

class YamlWriter {
 public:
  explicit YamlWriter(YAML::Emitter& out) : out_(out) {}

  // Strings are always double-quoted so a value such as "true" or "0" reads
  // back as the string it is.
  void Field(absl::string_view key, std::string& v) { Key(key) << YAML::DoubleQuoted << v; }
  void Field(absl::string_view key, bool& v) { Key(key) << v; }
  template <typename Int>
  void Field(absl::string_view key, Int& v, Range) {
    Key(key) << static_cast<long long>(v);
  }
  void Field(absl::string_view key, std::vector<std::string>& v) {
    Key(key) << YAML::Flow << YAML::BeginSeq;
    for (const std::string& s : v) out_ << YAML::DoubleQuoted << s;
    out_ << YAML::EndSeq;
  }
  template <typename Fn>
  void Section(absl::string_view key, Fn fn) {
    Key(key) << YAML::BeginMap;
    fn();
    out_ << YAML::EndMap;
  }
  void Handlers(absl::string_view key, std::map<std::string, RuntimeHandler>& handlers) {
    Key(key);
    if (handlers.empty()) out_ << YAML::Flow;  // "handlers: {}" on one line
    out_ << YAML::BeginMap;
    for (auto& [name, h] : handlers) {
      Key(name) << YAML::BeginMap;
      VisitHandler(*this, h);
      out_ << YAML::EndMap;
    }
    out_ << YAML::EndMap;
  }
  void Registries(absl::string_view key, std::vector<RegistryConfig>& registries) {
    Key(key);
    if (registries.empty()) out_ << YAML::Flow;  // "registries: []" on one line
    out_ << YAML::BeginSeq;
    for (RegistryConfig& r : registries) {
      out_ << YAML::BeginMap;
      VisitRegistry(*this, r);
      out_ << YAML::EndMap;
    }
    out_ << YAML::EndSeq;
  }

 private:
  YAML::Emitter& Key(absl::string_view key) {
    return out_ << YAML::Key << std::string(key) << YAML::Value;
  }
  YAML::Emitter& out_;
};

class JsonWriter {
 public:
  explicit JsonWriter(nlohmann::json* root) : cur_(root) {}

  void Field(absl::string_view key, std::string& v) { At(key) = v; }
  void Field(absl::string_view key, bool& v) { At(key) = v; }
  template <typename Int>
  void Field(absl::string_view key, Int& v, Range) {
    At(key) = static_cast<int64_t>(v);
  }
  void Field(absl::string_view key, std::vector<std::string>& v) { At(key) = v; }
  template <typename Fn>
  void Section(absl::string_view key, Fn fn) {
    Enter(At(key) = nlohmann::json::object(), fn);
  }
  void Handlers(absl::string_view key, std::map<std::string, RuntimeHandler>& handlers) {
    nlohmann::json& all = At(key) = nlohmann::json::object();
    for (auto& [name, h] : handlers) {
      Enter(all[name] = nlohmann::json::object(), [&] { VisitHandler(*this, h); });
    }
  }
  void Registries(absl::string_view key, std::vector<RegistryConfig>& registries) {
    nlohmann::json& all = At(key) = nlohmann::json::array();
    for (RegistryConfig& r : registries) {
      all.push_back(nlohmann::json::object());
      Enter(all.back(), [&] { VisitRegistry(*this, r); });
    }
  }

 private:
  nlohmann::json& At(absl::string_view key) { return (*cur_)[std::string(key)]; }
  template <typename Fn>
  void Enter(nlohmann::json& obj, Fn fn) {
    nlohmann::json* saved = std::exchange(cur_, &obj);
    fn();
    cur_ = saved;
  }
  nlohmann::json* cur_;
};

// Checks the integer ranges again for values that did not come through the
// YAML reader (flags, code building a Config directly).
class RangeChecker {
 public:
  const absl::Status& status() const { return status_; }

  void Field(absl::string_view, std::string&) {}
  void Field(absl::string_view, bool&) {}
  void Field(absl::string_view, std::vector<std::string>&) {}
  template <typename Int>
  void Field(absl::string_view key, Int& v, Range r) {
    int64_t value = static_cast<int64_t>(v);
    if (status_.ok() && (value < r.min || value > r.max)) {
      status_ = absl::InvalidArgumentError(RangeMessage(prefix_ + std::string(key), value, r));
    }
  }
  template <typename Fn>
  void Section(absl::string_view key, Fn fn) {
    Enter(absl::StrCat(prefix_, key, "."), fn);
  }
  void Handlers(absl::string_view key, std::map<std::string, RuntimeHandler>& handlers) {
    for (auto& [name, h] : handlers) {
      Enter(absl::StrCat(prefix_, key, ".", name, "."), [&] { VisitHandler(*this, h); });
    }
  }
  void Registries(absl::string_view key, std::vector<RegistryConfig>& registries) {
    for (size_t i = 0; i < registries.size(); ++i) {
      Enter(absl::StrCat(prefix_, key, "[", i, "]."), [&] { VisitRegistry(*this, registries[i]); });
    }
  }

 private:
  template <typename Fn>
  void Enter(std::string prefix, Fn fn) {
    std::string saved = std::exchange(prefix_, std::move(prefix));
    fn();
    prefix_ = std::move(saved);
  }
  absl::Status status_;
  std::string prefix_;
};

// ---------------------------------------------------------------------------
// Resolving.

std::string JoinPath(absl::string_view dir, absl::string_view name) {
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  return dir == "/" ? absl::StrCat("/", name) : absl::StrCat(dir, "/", name);
}

// Like exec's PATH search, but only absolute entries: an empty or relative
// entry would resolve against criusd's working directory.
std::string LookPath(absl::string_view name) {
  const char* env = std::getenv("PATH");
  absl::string_view dirs =
      env != nullptr ? env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (absl::string_view dir : absl::StrSplit(dirs, ':')) {
    if (!absl::StartsWith(dir, "/")) continue;
    std::string candidate = JoinPath(dir, name);
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

template <typename... Parts>
absl::Status Invalid(const Parts&... parts) {
  return absl::InvalidArgumentError(absl::StrCat("invalid config: ", parts...));
}

absl::Status CheckAbsolute(absl::string_view key, absl::string_view path) {
  if (!absl::StartsWith(path, "/")) {
    return Invalid(key, ": must be an absolute path, got \"", path, "\"");
  }
  return absl::OkStatus();
}

absl::Status CheckOptionalAbsolute(absl::string_view key, absl::string_view path) {
  return path.empty() ? absl::OkStatus() : CheckAbsolute(key, path);
}

// "host:port" with a numeric port; IPv6 hosts in brackets ("[::1]:9090").
absl::Status CheckHostPort(absl::string_view key, absl::string_view addr) {
  absl::string_view host, port;
  if (absl::StartsWith(addr, "[")) {
    size_t close = addr.find("]:");
    if (close == absl::string_view::npos) {
      return Invalid(key, ": want [ipv6]:port, got \"", addr, "\"");
    }
    host = addr.substr(1, close - 1);
    port = addr.substr(close + 2);
  } else {
    size_t colon = addr.rfind(':');
    if (colon == absl::string_view::npos ||
        addr.substr(0, colon).find(':') != absl::string_view::npos) {
      return Invalid(key, ": want host:port (IPv6 as [addr]:port), got \"", addr, "\"");
    }
    host = addr.substr(0, colon);
    port = addr.substr(colon + 1);
  }
  int64_t p = -1;
  if (host.empty() || !ParseDecimal(port, &p) || p < 0 || p > 65535) {
    return Invalid(key, ": want host:port with a port in 0-65535, got \"", addr, "\"");
  }
  return absl::OkStatus();
}

absl::Status ResolveTopLevel(Config& c) {
  if (!absl::StartsWith(c.listen, "unix://")) {
    return Invalid("listen: must start with \"unix://\", got \"", c.listen, "\"");
  }
  RETURN_IF_ERROR(CheckAbsolute("listen (socket path)", c.ListenPath()));
  RETURN_IF_ERROR(CheckAbsolute("root", c.root));
  RETURN_IF_ERROR(CheckAbsolute("state", c.state));
  absl::StatusOr<log::Level> level = log::ParseLevel(c.log_level);
  if (!level.ok()) return Invalid("log_level: ", level.status().message());
  c.log_level = std::string(log::LevelName(*level));
  RETURN_IF_ERROR(CheckAbsolute("cni.conf_dir", c.cni.conf_dir));
  RETURN_IF_ERROR(CheckAbsolute("cni.cache_dir", c.cni.cache_dir));
  if (c.cni.bin_dirs.empty()) return Invalid("cni.bin_dirs: must list at least one directory");
  for (size_t i = 0; i < c.cni.bin_dirs.size(); ++i) {
    RETURN_IF_ERROR(CheckAbsolute(absl::StrCat("cni.bin_dirs[", i, "]"), c.cni.bin_dirs[i]));
  }
  return absl::OkStatus();
}

std::string HandlerNames(const Config& c) {
  std::vector<std::string> names;
  for (const auto& [name, h] : c.runtime.handlers) names.push_back(name);
  return absl::StrJoin(names, ", ");
}

absl::Status ResolveRuntime(Config& c) {
  RuntimeConfig& rt = c.runtime;
  // conmon is found the way the shell would find it, but Debian's location
  // is kept as a fallback so a daemon started with a bare PATH still works.
  if (rt.monitor_path.empty()) {
    rt.monitor_path = LookPath("conmon");
    if (rt.monitor_path.empty()) rt.monitor_path = "/usr/bin/conmon";
  }
  RETURN_IF_ERROR(CheckAbsolute("runtime.monitor_path", rt.monitor_path));
  if (rt.cgroup_manager.empty()) {
    rt.cgroup_manager = SystemdIsInit() ? "systemd" : "cgroupfs";
  }
  if (rt.cgroup_manager != "cgroupfs" && rt.cgroup_manager != "systemd") {
    return Invalid("runtime.cgroup_manager: \"", rt.cgroup_manager,
                   "\" is neither \"cgroupfs\" nor \"systemd\"");
  }
  if (rt.handlers.empty()) return Invalid("runtime.handlers: no runtime handler is configured");
  for (auto& [name, h] : rt.handlers) {
    const std::string key = absl::StrCat("runtime.handlers.", name);
    if (absl::Status s = CheckHandlerName(name); !s.ok()) return Invalid(key, ": ", s.message());
    h.name = name;
    if (h.type != "oci")
      return Invalid(key, ".type: only \"oci\" is supported, got \"", h.type, "\"");
    if (h.path.empty()) {
      h.path = LookPath(name);
      if (h.path.empty()) h.path = JoinPath("/usr/bin", name);
    }
    RETURN_IF_ERROR(CheckAbsolute(key + ".path", h.path));
    if (h.root.empty()) h.root = JoinPath(c.state, name);
    RETURN_IF_ERROR(CheckAbsolute(key + ".root", h.root));
    if (h.monitor_path.empty()) h.monitor_path = rt.monitor_path;
    RETURN_IF_ERROR(CheckAbsolute(key + ".monitor_path", h.monitor_path));
  }
  if (!rt.handlers.contains(rt.default_handler)) {
    return Invalid("runtime.default_handler: \"", rt.default_handler,
                   "\" is not a configured handler (configured: ", HandlerNames(c), ")");
  }
  if (c.pod.infra_handler.empty()) c.pod.infra_handler = rt.default_handler;
  if (!rt.handlers.contains(c.pod.infra_handler)) {
    return Invalid("pod.infra_handler: \"", c.pod.infra_handler,
                   "\" is not a configured handler (configured: ", HandlerNames(c), ")");
  }
  return CheckAbsolute("pod.infra_path", c.pod.infra_path);
}

absl::Status ResolveNetworkAndImage(Config& c) {
  if (c.streaming.address.empty()) return Invalid("streaming.address: must not be empty");
  if (absl::StartsWith(c.metrics.address, "unix://")) {
    RETURN_IF_ERROR(CheckAbsolute("metrics.address", c.metrics.address.substr(7)));
  } else {
    RETURN_IF_ERROR(CheckHostPort("metrics.address", c.metrics.address));
  }
  if (c.streaming.tls_cert_file.empty() != c.streaming.tls_key_file.empty()) {
    return Invalid("streaming.tls_cert_file and streaming.tls_key_file: set both or neither");
  }
  RETURN_IF_ERROR(CheckOptionalAbsolute("streaming.tls_cert_file", c.streaming.tls_cert_file));
  RETURN_IF_ERROR(CheckOptionalAbsolute("streaming.tls_key_file", c.streaming.tls_key_file));
  RETURN_IF_ERROR(CheckOptionalAbsolute("image.auth_file", c.image.auth_file));
  std::set<std::string> hosts;
  for (size_t i = 0; i < c.image.registries.size(); ++i) {
    const RegistryConfig& r = c.image.registries[i];
    const std::string key = absl::StrCat("image.registries[", i, "]");
    // A host, optionally with a port, as it appears in image references.
    if (r.host.empty() || absl::StrContains(r.host, "/")) {
      return Invalid(key, ".host: want a registry host such as docker.io or localhost:5000, got \"",
                     r.host, "\"");
    }
    if (!hosts.insert(r.host).second) {
      return Invalid(key, ".host: registry \"", r.host, "\" is listed twice");
    }
    for (size_t m = 0; m < r.mirrors.size(); ++m) {
      if (!absl::StartsWith(r.mirrors[m], "https://") &&
          !absl::StartsWith(r.mirrors[m], "http://")) {
        return Invalid(key, ".mirrors[", m, "]: want an http:// or https:// URL, got \"",
                       r.mirrors[m], "\"");
      }
    }
    RETURN_IF_ERROR(CheckOptionalAbsolute(key + ".ca_file", r.ca_file));
  }
  return absl::OkStatus();
}

}  // namespace

std::string Config::ListenPath() const {
  return absl::StartsWith(listen, "unix://") ? listen.substr(7) : listen;
}

Config DefaultConfig() {
  Config c;
  c.runtime.handlers["runc"].name = "runc";
  // crun is offered only where it is installed, so a default config never
  // names a runtime the node cannot run.
  if (!LookPath("crun").empty()) c.runtime.handlers["crun"].name = "crun";
  return c;
}

absl::Status ApplyYaml(std::string_view text_view, std::string_view source_view, Config* cfg) {
  const absl::string_view text = AbslView(text_view);
  const absl::string_view source_name = AbslView(source_view);
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    int line = e.mark.is_null() ? 0 : e.mark.line + 1;
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ":", line, ": invalid YAML: ", e.msg));
  }
  if (docs.empty() || (docs.size() == 1 && docs[0].IsNull())) return absl::OkStatus();
  const YAML::Node& root = docs[0];
  if (docs.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ":", docs[1].Mark().line + 1,
                                                   ": only one YAML document is allowed"));
  }
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ":", root.Mark().line + 1,
                                                   ": the top level must be a mapping, got ",
                                                   Describe(root)));
  }
  // Work on a copy so a rejected file leaves no half-applied settings.
  Config next = *cfg;
  YamlReader reader(source_name);
  try {
    reader.Nested(root, "", [&] { VisitConfig(reader, next); });
  } catch (const YAML::Exception& e) {
    // Not expected from reading an already parsed tree; kept so no exception
    // escapes the module.
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": ", e.what()));
  }
  RETURN_IF_ERROR(reader.status());
  *cfg = std::move(next);
  return absl::OkStatus();
}

absl::Status ApplyYamlFile(const std::string& path, Config* cfg) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(absl::StrCat("open config ", path));
  std::string text;
  char buf[16384];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status s = ErrnoStatus(absl::StrCat("read config ", path));
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return ApplyYaml(text, path, cfg);
}

absl::Status Resolve(Config* cfg) {
  Config c = *cfg;
  RangeChecker ranges;
  VisitConfig(ranges, c);
  if (!ranges.status().ok()) return Invalid(ranges.status().message());
  RETURN_IF_ERROR(ResolveTopLevel(c));
  RETURN_IF_ERROR(ResolveRuntime(c));
  RETURN_IF_ERROR(ResolveNetworkAndImage(c));
  *cfg = std::move(c);
  return absl::OkStatus();
}

std::string ConfigToYaml(const Config& cfg) {
  Config copy = cfg;  // the visitors take mutable references
  YAML::Emitter out;
  YamlWriter writer(out);
  out << YAML::BeginMap;
  VisitConfig(writer, copy);
  out << YAML::EndMap;
  return absl::StrCat(out.c_str(), "\n");
}

nlohmann::json ConfigToJson(const Config& cfg) {
  Config copy = cfg;
  nlohmann::json root = nlohmann::json::object();
  JsonWriter writer(&root);
  VisitConfig(writer, copy);
  return root;
}

}  // namespace crius::server
