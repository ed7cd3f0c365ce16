#include "server/config.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/flags.h"

namespace crius::server {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Every test gets its own directory and a PATH that holds only what the test
// puts there, so the host's runc/crun/conmon never change the outcome.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "crius-config-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ / "bin");
    fs::create_directories(dir_ / "crius.d");
    if (const char* p = getenv("PATH")) saved_path_ = p;
    setenv("PATH", (dir_ / "bin").c_str(), 1);
  }
  void TearDown() override {
    if (saved_path_) setenv("PATH", saved_path_->c_str(), 1);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string Write(const std::string& rel, const std::string& text) {
    fs::path p = dir_ / rel;
    std::ofstream(p) << text;
    return p.string();
  }
  std::string MakeExecutable(const std::string& name) {
    std::string p = Write("bin/" + name, "#!/bin/sh\n");
    chmod(p.c_str(), 0755);
    return p;
  }
  Flags TestFlags() const {
    Flags f;
    f.config_path = (dir_ / "crius.yaml").string();
    f.config_dir = (dir_ / "crius.d").string();
    return f;
  }

  fs::path dir_;
  std::optional<std::string> saved_path_;
};

absl::StatusOr<Flags> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "criusd");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return ParseFlags(static_cast<int>(argv.size()), argv.data());
}

TEST_F(ConfigTest, DefaultsWithoutAnyFile) {
  absl::StatusOr<Config> cfg = LoadConfig(TestFlags());
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->listen, "unix:///run/crius/crius.sock");
  EXPECT_EQ(cfg->ListenPath(), "/run/crius/crius.sock");
  EXPECT_EQ(cfg->root, "/var/lib/crius");
  EXPECT_EQ(cfg->state, "/run/crius");
  EXPECT_EQ(cfg->log_level, "info");
  EXPECT_EQ(cfg->grpc_max_message_bytes, 16 * 1024 * 1024);
  EXPECT_EQ(cfg->recovery_timeout_seconds, 300);
  EXPECT_EQ(cfg->cni.conf_dir, "/etc/cni/net.d");
  EXPECT_EQ(cfg->cni.bin_dirs, (std::vector<std::string>{"/opt/cni/bin", "/usr/lib/cni"}));
  EXPECT_EQ(cfg->cni.cache_dir, "/var/lib/cni");
  EXPECT_EQ(cfg->cni.plugin_timeout_seconds, 60);
  EXPECT_EQ(cfg->runtime.default_handler, "runc");
  // Nothing in PATH: the Debian locations are the fallback.
  EXPECT_EQ(cfg->runtime.monitor_path, "/usr/bin/conmon");
  ASSERT_EQ(cfg->runtime.handlers.size(), 1u);  // no crun in PATH
  const RuntimeHandler& runc = cfg->runtime.handlers.at("runc");
  EXPECT_EQ(runc.name, "runc");
  EXPECT_EQ(runc.path, "/usr/bin/runc");
  EXPECT_EQ(runc.root, "/run/crius/runc");
  EXPECT_EQ(runc.type, "oci");
  EXPECT_EQ(runc.monitor_path, "/usr/bin/conmon");
  EXPECT_EQ(cfg->streaming.address, "127.0.0.1");
  EXPECT_EQ(cfg->streaming.port, 0);
  EXPECT_EQ(cfg->streaming.token_ttl_seconds, 60);
  EXPECT_EQ(cfg->streaming.idle_timeout_seconds, 14400);
  EXPECT_EQ(cfg->streaming.stream_creation_timeout_seconds, 30);
  EXPECT_TRUE(cfg->metrics.enabled);
  EXPECT_EQ(cfg->metrics.address, "127.0.0.1:9090");
  EXPECT_EQ(cfg->image.max_concurrent_downloads, 4);
  EXPECT_EQ(cfg->image.pull_progress_timeout_seconds, 60);
  EXPECT_EQ(cfg->image.auth_file, "");
  EXPECT_TRUE(cfg->image.registries.empty());
  EXPECT_EQ(cfg->pod.infra_path, "/usr/local/libexec/crius/crius-pause");
  EXPECT_EQ(cfg->pod.infra_handler, "runc");
  EXPECT_EQ(cfg->pod.shm_size_bytes, 64 * 1024 * 1024);
}

TEST_F(ConfigTest, PathLookupsAndCrunOnlyWhenInstalled) {
  std::string runc = MakeExecutable("runc");
  std::string crun = MakeExecutable("crun");
  std::string conmon = MakeExecutable("conmon");
  absl::StatusOr<Config> cfg = LoadConfig(TestFlags());
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  ASSERT_EQ(cfg->runtime.handlers.size(), 2u);
  EXPECT_EQ(cfg->runtime.handlers.at("runc").path, runc);
  EXPECT_EQ(cfg->runtime.handlers.at("crun").path, crun);
  EXPECT_EQ(cfg->runtime.handlers.at("crun").root, "/run/crius/crun");
  EXPECT_EQ(cfg->runtime.monitor_path, conmon);
  EXPECT_EQ(cfg->runtime.handlers.at("crun").monitor_path, conmon);
}

TEST_F(ConfigTest, CgroupManagerDefaultsToSystemdOnlyUnderSystemd) {
  absl::StatusOr<Config> cfg = LoadConfig(TestFlags());
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->runtime.cgroup_manager, SystemdIsInit() ? "systemd" : "cgroupfs");
  EXPECT_THAT(ConfigToYaml(*cfg),
              HasSubstr("cgroup_manager: \"" + cfg->runtime.cgroup_manager + "\""));
  for (const char* driver : {"cgroupfs", "systemd"}) {
    Write("crius.d/10-cgroup.yaml", std::string("runtime:\n  cgroup_manager: ") + driver + "\n");
    cfg = LoadConfig(TestFlags());
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    EXPECT_EQ(cfg->runtime.cgroup_manager, driver);
  }
  Write("crius.d/10-cgroup.yaml", "runtime:\n  cgroup_manager: cgroupv1\n");
  cfg = LoadConfig(TestFlags());
  EXPECT_TRUE(absl::IsInvalidArgument(cfg.status()));
  EXPECT_THAT(std::string(cfg.status().message()), HasSubstr("runtime.cgroup_manager"));
}

TEST_F(ConfigTest, EmptyAndCommentOnlyFilesAreFine) {
  Config cfg = DefaultConfig();
  EXPECT_TRUE(ApplyYaml("", "empty.yaml", &cfg).ok());
  EXPECT_TRUE(ApplyYaml("# nothing here\n", "comments.yaml", &cfg).ok());
  EXPECT_TRUE(ApplyYaml("---\n", "doc.yaml", &cfg).ok());
  EXPECT_EQ(cfg, DefaultConfig());
}

TEST_F(ConfigTest, MainFileOverrides) {
  Write("crius.yaml", R"(
listen: unix:///tmp/x/crius.sock
root: /srv/crius
state: /tmp/x/state
log_level: WARNING
cni:
  bin_dirs: [/a, /b]
runtime:
  handlers:
    runc: {path: /opt/runc}
streaming: {port: 10010}
metrics:
  enabled: false
image:
  auth_file: /etc/crius/auth.json
  registries:
    - host: docker.io
      mirrors: ["https://mirror.local:5000"]
pod:
  shm_size_bytes: 1024
)");
  absl::StatusOr<Config> cfg = LoadConfig(TestFlags());
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->ListenPath(), "/tmp/x/crius.sock");
  EXPECT_EQ(cfg->root, "/srv/crius");
  EXPECT_EQ(cfg->log_level, "warn");  // canonical name
  EXPECT_EQ(cfg->cni.bin_dirs, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(cfg->cni.conf_dir, "/etc/cni/net.d");  // untouched keys keep defaults
  EXPECT_EQ(cfg->runtime.handlers.at("runc").path, "/opt/runc");
  EXPECT_EQ(cfg->runtime.handlers.at("runc").root, "/tmp/x/state/runc");  // follows state
  EXPECT_EQ(cfg->streaming.port, 10010);
  EXPECT_EQ(cfg->streaming.address, "127.0.0.1");
  EXPECT_FALSE(cfg->metrics.enabled);
  EXPECT_EQ(cfg->image.auth_file, "/etc/crius/auth.json");
  ASSERT_EQ(cfg->image.registries.size(), 1u);
  EXPECT_EQ(cfg->image.registries[0].host, "docker.io");
  EXPECT_EQ(cfg->image.registries[0].mirrors,
            std::vector<std::string>{"https://mirror.local:5000"});
  EXPECT_EQ(cfg->pod.shm_size_bytes, 1024);
}

TEST_F(ConfigTest, DropInsApplyInNameOrderAndMerge) {
  Write("crius.yaml", R"(
streaming: {port: 1, address: 0.0.0.0}
runtime:
  handlers:
    runc: {path: /opt/runc}
image:
  registries:
    - {host: docker.io, mirrors: ["https://a.local"]}
)");
  // Written out of order: names, not creation order, decide.
  Write("crius.d/20-b.yaml", R"(
streaming: {port: 3}
runtime:
  handlers:
    runc: {root: /custom/runc}
image:
  registries:
    - {host: docker.io, insecure: true}
)");
  Write("crius.d/10-a.yaml", R"(
streaming: {port: 2}
cni: {bin_dirs: [/only]}
runtime:
  default_handler: kata
  handlers:
    kata: {path: /opt/kata/kata-runtime}
image:
  registries:
    - {host: "localhost:5000", insecure: true}
)");
  Write("crius.d/15-c.yml", "log_level: debug\n");
  Write("crius.d/.hidden.yaml", "bogus: 1\n");
  Write("crius.d/README.txt", "not yaml: [\n");
  absl::StatusOr<Config> cfg = LoadConfig(TestFlags());
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->streaming.port, 3);             // 20-b came last
  EXPECT_EQ(cfg->streaming.address, "0.0.0.0");  // main file key kept
  EXPECT_EQ(cfg->log_level, "debug");
  EXPECT_EQ(cfg->cni.bin_dirs, std::vector<std::string>{"/only"});  // lists replace
  EXPECT_EQ(cfg->runtime.default_handler, "kata");
  ASSERT_EQ(cfg->runtime.handlers.size(), 2u);
  EXPECT_EQ(cfg->runtime.handlers.at("runc").path, "/opt/runc");  // merged by name
  EXPECT_EQ(cfg->runtime.handlers.at("runc").root, "/custom/runc");
  EXPECT_EQ(cfg->runtime.handlers.at("kata").path, "/opt/kata/kata-runtime");
  EXPECT_EQ(cfg->runtime.handlers.at("kata").type, "oci");
  ASSERT_EQ(cfg->image.registries.size(), 2u);
  EXPECT_EQ(cfg->image.registries[0].host, "docker.io");  // merged by host
  EXPECT_EQ(cfg->image.registries[0].mirrors, std::vector<std::string>{"https://a.local"});
  EXPECT_TRUE(cfg->image.registries[0].insecure);
  EXPECT_EQ(cfg->image.registries[1].host, "localhost:5000");
  EXPECT_EQ(cfg->pod.infra_handler, "kata");
}

TEST_F(ConfigTest, FlagsWinOverFiles) {
  Write("crius.yaml", "listen: unix:///file.sock\nstreaming: {port: 5}\n");
  Write("crius.d/10-a.yaml", "root: /from/dropin\nlog_level: error\n");
  absl::StatusOr<Flags> flags =
      Parse({"--config", (dir_ / "crius.yaml").string(),
             "--config-dir=" + (dir_ / "crius.d").string(), "--listen=unix:///flag.sock", "--root",
             "/from/flag", "--state=/st", "--log-level=debug", "--cni-conf-dir=/cni/conf",
             "--cni-bin-dir=/b1,/b2", "--cni-bin-dir", "/b3", "--streaming-address=::1",
             "--streaming-port", "7", "--metrics-address=[::1]:9999", "--default-runtime=crun"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  MakeExecutable("crun");
  absl::StatusOr<Config> cfg = LoadConfig(*flags);
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->listen, "unix:///flag.sock");
  EXPECT_EQ(cfg->root, "/from/flag");
  EXPECT_EQ(cfg->state, "/st");
  EXPECT_EQ(cfg->log_level, "debug");
  EXPECT_EQ(cfg->cni.conf_dir, "/cni/conf");
  EXPECT_EQ(cfg->cni.bin_dirs, (std::vector<std::string>{"/b1", "/b2", "/b3"}));
  EXPECT_EQ(cfg->streaming.address, "::1");
  EXPECT_EQ(cfg->streaming.port, 7);
  EXPECT_EQ(cfg->metrics.address, "[::1]:9999");
  EXPECT_EQ(cfg->runtime.default_handler, "crun");
  EXPECT_EQ(cfg->runtime.handlers.at("crun").root, "/st/crun");
}

TEST_F(ConfigTest, UnknownKeyNamesFileLineAndKeyPath) {
  std::string path =
      Write("crius.d/10-x.yaml", "# a drop-in\ncni:\n  cache_dir: /c\n  conf_dri: /x\n");
  absl::StatusOr<Config> cfg = LoadConfig(TestFlags());
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cfg.status().message(), HasSubstr(path + ":4: unknown key \"cni.conf_dri\""));

  Config c = DefaultConfig();
  absl::Status s = ApplyYaml("runtime:\n  handlers:\n    runc:\n      paht: /x\n", "h.yaml", &c);
  EXPECT_THAT(s.message(), HasSubstr("h.yaml:4: unknown key \"runtime.handlers.runc.paht\""));
  s = ApplyYaml("listen: unix:///a\nlisten: unix:///b\n", "dup.yaml", &c);
  EXPECT_THAT(s.message(), HasSubstr("dup.yaml:2: duplicate key \"listen\""));
}

TEST_F(ConfigTest, WrongTypesAreRejectedWithLine) {
  struct Case {
    std::string yaml;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"streaming:\n  port: abc\n", "t.yaml:2: \"streaming.port\" must be an integer, got \"abc\""},
      {"streaming:\n  port: \"80\"\n", "t.yaml:2: \"streaming.port\" must be an integer"},
      {"streaming:\n  port: 70000\n", "t.yaml:2: \"streaming.port\" must be between 0 and 65535"},
      {"pod:\n  shm_size_bytes: -1\n", "t.yaml:2: \"pod.shm_size_bytes\" must be >= 1, got -1"},
      {"metrics:\n  enabled: yes\n", "t.yaml:2: \"metrics.enabled\" must be true or false"},
      {"cni: /etc/cni\n", "t.yaml:1: \"cni\" must be a mapping, got \"/etc/cni\""},
      {"cni:\n  bin_dirs: /opt/cni/bin\n", "t.yaml:2: \"cni.bin_dirs\" must be a list of strings"},
      {"cni:\n  bin_dirs: [/a, {x: 1}]\n", "t.yaml:2: \"cni.bin_dirs[1]\" must be a string"},
      {"listen: [a]\n", "t.yaml:1: \"listen\" must be a string, got a list"},
      {"listen:\n", "t.yaml:1: \"listen\" must be a string, got null"},
      {"runtime:\n  handlers: [runc]\n", "t.yaml:2: \"runtime.handlers\" must be a mapping"},
      {"runtime:\n  handlers:\n    \"bad/name\": {}\n", "t.yaml:3: \"runtime.handlers.bad/name\""},
      {"image:\n  registries:\n    - mirrors: []\n", "\"image.registries[0].host\" must be set"},
      {"- a\n- b\n", "t.yaml:1: the top level must be a mapping"},
  };
  for (const Case& c : cases) {
    Config cfg = DefaultConfig();
    absl::Status s = ApplyYaml(c.yaml, "t.yaml", &cfg);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_THAT(s.message(), HasSubstr(c.want)) << c.yaml;
    EXPECT_EQ(cfg, DefaultConfig()) << "a rejected file must change nothing: " << c.yaml;
  }
}

TEST_F(ConfigTest, EarliestErrorIsReported) {
  Config cfg = DefaultConfig();
  absl::Status s = ApplyYaml("bogus: 1\nstreaming: {port: x}\n", "t.yaml", &cfg);
  EXPECT_THAT(s.message(), HasSubstr("t.yaml:1: unknown key \"bogus\" (and 1 more error)"));
}

TEST_F(ConfigTest, YamlSyntaxErrorNamesFileAndLine) {
  std::string path = Write("crius.yaml", "listen: unix:///a\ncni: {conf_dir: /x\nroot: /r\n");
  absl::StatusOr<Config> cfg = LoadConfig(TestFlags());
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cfg.status().message(), HasSubstr(path + ":"));
  EXPECT_THAT(cfg.status().message(), HasSubstr("invalid YAML"));
}

TEST_F(ConfigTest, BadListenIsRejected) {
  for (const char* listen : {"tcp://127.0.0.1:1234", "/run/crius.sock", "unix://relative.sock"}) {
    Config cfg = DefaultConfig();
    cfg.listen = listen;
    absl::Status s = Resolve(&cfg);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << listen;
    EXPECT_THAT(s.message(), HasSubstr("listen")) << listen;
  }
}

TEST_F(ConfigTest, OtherValidationErrors) {
  struct Case {
    void (*mutate)(Config*);
    std::string want;
  };
  const std::vector<Case> cases = {
      {[](Config* c) { c->root = "var/lib"; }, "root: must be an absolute path"},
      {[](Config* c) { c->log_level = "loud"; }, "log_level"},
      {[](Config* c) { c->cni.bin_dirs.clear(); }, "cni.bin_dirs"},
      {[](Config* c) { c->streaming.port = -1; }, "streaming.port"},
      {[](Config* c) { c->streaming.tls_cert_file = "/etc/crius/tls.crt"; },
       "set both or neither"},
      {[](Config* c) {
         c->streaming.tls_cert_file = "tls.crt";
         c->streaming.tls_key_file = "/etc/crius/tls.key";
       },
       "streaming.tls_cert_file: must be an absolute path"},
      {[](Config* c) { c->metrics.address = "127.0.0.1"; }, "metrics.address"},
      {[](Config* c) { c->metrics.address = "::1:9090"; }, "metrics.address"},
      {[](Config* c) { c->metrics.address = "127.0.0.1:99999"; }, "metrics.address"},
      {[](Config* c) { c->runtime.handlers["runc"].type = "vm"; }, "runtime.handlers.runc.type"},
      {[](Config* c) { c->pod.infra_handler = "nope"; }, "pod.infra_handler"},
      {[](Config* c) { c->image.registries.emplace_back().host = "https://docker.io"; },
       "image.registries[0].host"},
      {[](Config* c) {
         RegistryConfig& r = c->image.registries.emplace_back();
         r.host = "a";
         r.mirrors = {"a.local"};
       },
       "image.registries[0].mirrors[0]"},
  };
  for (const Case& c : cases) {
    Config cfg = DefaultConfig();
    c.mutate(&cfg);
    absl::Status s = Resolve(&cfg);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.want;
    EXPECT_THAT(s.message(), HasSubstr(c.want));
  }
}

TEST_F(ConfigTest, UnknownDefaultHandlerIsRejected) {
  Write("crius.yaml", "runtime:\n  default_handler: kata\n");
  absl::StatusOr<Config> cfg = LoadConfig(TestFlags());
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cfg.status().message(),
              HasSubstr("runtime.default_handler: \"kata\" is not a configured handler "
                        "(configured: runc)"));
}

TEST_F(ConfigTest, ExplicitMissingConfigFails) {
  absl::StatusOr<Flags> flags = Parse(
      {"--config", (dir_ / "absent.yaml").string(), "--config-dir", (dir_ / "crius.d").string()});
  ASSERT_TRUE(flags.ok());
  EXPECT_TRUE(flags->config_path_set);
  absl::StatusOr<Config> cfg = LoadConfig(*flags);
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(cfg.status().message(), HasSubstr("absent.yaml"));
}

TEST_F(ConfigTest, ImplicitMissingConfigAndDirAreFine) {
  Flags flags = TestFlags();
  flags.config_dir = (dir_ / "no-such-dir").string();
  EXPECT_FALSE(flags.config_path_set);
  EXPECT_TRUE(LoadConfig(flags).ok());
}

TEST_F(ConfigTest, ConfigToYamlRoundTrips) {
  Write("crius.yaml", R"(
log_level: debug
state: /tmp/st
cni: {bin_dirs: []}
runtime:
  handlers:
    kata: {path: /opt/kata, root: "/r/with space", monitor_path: /m}
streaming: {address: "true", port: 1234}
metrics: {enabled: false, address: "[::1]:0"}
image:
  auth_file: /auth.json
  registries:
    - {host: docker.io, mirrors: ["https://m1", "http://m2:5000"], insecure: true, ca_file: /ca.pem}
    - {host: "localhost:5000"}
pod: {infra_handler: kata, infra_path: "/odd \"quoted\" path: #1"}
)");
  Flags flags = TestFlags();
  flags.cni_bin_dirs = {"/cni"};  // an empty list does not validate
  absl::StatusOr<Config> cfg = LoadConfig(flags);
  ASSERT_TRUE(cfg.ok()) << cfg.status();

  std::string yaml = ConfigToYaml(*cfg);
  Config back = DefaultConfig();
  ASSERT_TRUE(ApplyYaml(yaml, "printed", &back).ok()) << yaml;
  EXPECT_EQ(back, *cfg) << yaml;
  // The printed config is already resolved, so resolving it changes nothing.
  ASSERT_TRUE(Resolve(&back).ok());
  EXPECT_EQ(back, *cfg);

  // The built-in defaults, before Resolve, round-trip as well.
  Config defaults = DefaultConfig();
  Config again = DefaultConfig();
  ASSERT_TRUE(ApplyYaml(ConfigToYaml(defaults), "printed", &again).ok());
  EXPECT_EQ(again, defaults);
}

TEST_F(ConfigTest, ConfigToJsonHasTheKeys) {
  absl::StatusOr<Config> cfg = LoadConfig(TestFlags());
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  nlohmann::json j = ConfigToJson(*cfg);
  for (const char* key :
       {"listen", "root", "state", "log_level", "grpc_max_message_bytes",
        "recovery_timeout_seconds", "cni", "runtime", "streaming", "metrics", "image", "pod"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["listen"], "unix:///run/crius/crius.sock");
  EXPECT_EQ(j["grpc_max_message_bytes"], 16777216);
  EXPECT_EQ(j["cni"]["bin_dirs"], nlohmann::json({"/opt/cni/bin", "/usr/lib/cni"}));
  EXPECT_EQ(j["runtime"]["default_handler"], "runc");
  EXPECT_EQ(j["runtime"]["handlers"]["runc"]["root"], "/run/crius/runc");
  EXPECT_EQ(j["streaming"]["port"], 0);
  EXPECT_EQ(j["metrics"]["enabled"], true);
  EXPECT_TRUE(j["image"]["registries"].is_array());
  EXPECT_EQ(j["pod"]["shm_size_bytes"], 67108864);
}

TEST_F(ConfigTest, ParseFlagsForms) {
  absl::StatusOr<Flags> f = Parse({});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->config_path, "/etc/crius/crius.yaml");
  EXPECT_EQ(f->config_dir, "/etc/crius/crius.d");
  EXPECT_FALSE(f->config_path_set);
  EXPECT_FALSE(f->listen.has_value());

  f = Parse({"--print-config", "--version", "-h", "--streaming-port=0", "--listen", "unix:///x"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(f->print_config);
  EXPECT_TRUE(f->version);
  EXPECT_TRUE(f->help);
  EXPECT_EQ(f->streaming_port, 0);
  EXPECT_EQ(f->listen, "unix:///x");
}

TEST_F(ConfigTest, ParseFlagsRejectsBadInput) {
  absl::StatusOr<Flags> f = Parse({"--listen=unix:///x", "--bogus", "1"});
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(f.status().message(), HasSubstr("unknown flag --bogus"));

  EXPECT_THAT(Parse({"--root"}).status().message(), HasSubstr("--root needs a value"));
  EXPECT_THAT(Parse({"--help=yes"}).status().message(), HasSubstr("--help takes no value"));
  EXPECT_THAT(Parse({"stray"}).status().message(), HasSubstr("unexpected argument \"stray\""));
  EXPECT_THAT(Parse({"--streaming-port=http"}).status().message(),
              HasSubstr("flag --streaming-port"));
  EXPECT_THAT(Parse({"--log-level=loud"}).status().message(), HasSubstr("flag --log-level"));
  EXPECT_THAT(Parse({"--cni-bin-dir=/a,,/b"}).status().message(), HasSubstr("--cni-bin-dir"));
}

TEST_F(ConfigTest, HelpListsEveryFlagWithItsDefault) {
  std::string help = FlagsHelp();
  for (const char* flag :
       {"--config ", "--config-dir", "--listen", "--root", "--state", "--log-level",
        "--cni-conf-dir", "--cni-bin-dir", "--streaming-address", "--streaming-port",
        "--metrics-address", "--default-runtime", "--print-config", "--list-failpoints", "--version",
        "--help"}) {
    EXPECT_THAT(help, HasSubstr(flag));
  }
  // One "default:" line per flag.
  size_t defaults = 0;
  for (size_t pos = help.find("default: "); pos != std::string::npos;
       pos = help.find("default: ", pos + 1)) {
    ++defaults;
  }
  EXPECT_EQ(defaults, 16u) << help;
  for (const char* def :
       {"default: \"/etc/crius/crius.yaml\"", "default: \"/etc/crius/crius.d\"",
        "default: \"unix:///run/crius/crius.sock\"", "default: \"/opt/cni/bin,/usr/lib/cni\"",
        "default: 0", "default: \"127.0.0.1:9090\"", "default: \"runc\""}) {
    EXPECT_THAT(help, HasSubstr(def));
  }
}

}  // namespace
}  // namespace crius::server
