// BuildContainerSpec: every part of the OCI spec a CRI container gets, from
// a ContainerConfig, a pod context and an image config, without a daemon.

#include "oci/container_spec.h"

#include <sys/stat.h>
#include <unistd.h>

#include <csignal>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "oci/capabilities.h"
#include "test/unit/common/temp_dir.h"

namespace crius::oci {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
namespace v1 = runtime::v1;

class ContainerSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MkdirAll(dir_.Path("rootfs/etc")).ok());
    ASSERT_TRUE(WriteFileAtomic(dir_.Path("rootfs/etc/passwd"),
                                "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n")
                    .ok());
    ASSERT_TRUE(WriteFileAtomic(dir_.Path("rootfs/etc/group"), "root:x:0:\nwheel:x:10:app\n").ok());
    ASSERT_TRUE(MkdirAll(dir_.Path("pod")).ok());
    for (const char* f : {"hostname", "hosts", "resolv.conf", "termination-log"}) {
      ASSERT_TRUE(WriteFileAtomic(dir_.Path(std::string("pod/") + f), "x").ok());
    }
    ASSERT_TRUE(MkdirAll(dir_.Path("pod/shm")).ok());
    ASSERT_TRUE(MkdirAll(dir_.Path("vol/a/b")).ok());

    config_.mutable_metadata()->set_name("web");
    config_.mutable_image()->set_image("busybox:latest");
    sandbox_.mutable_metadata()->set_name("pod-name");
    sandbox_.mutable_metadata()->set_namespace_("pod-ns");
    sandbox_.mutable_metadata()->set_uid("pod-uid");
    sandbox_.set_hostname("pod-host");

    in_.container_id = "c0ffee";
    in_.config = &config_;
    in_.sandbox = &sandbox_;
    in_.image_name = "docker.io/library/busybox:latest";
    in_.rootfs = dir_.Path("rootfs");
    in_.image_config_json = R"({"config": {
        "Entrypoint": ["/entry"], "Cmd": ["serve", "--port=80"],
        "Env": ["PATH=/image/bin", "LANG=C", "EMPTY"],
        "WorkingDir": "/srv", "User": "", "StopSignal": "SIGQUIT"}})";
    in_.pod.sandbox_id = "sandbox1";
    in_.pod.net_ns = "/run/netns/p1";
    in_.pod.ipc_ns = "/run/crius/ns/p1/ipc";
    in_.pod.uts_ns = "/run/crius/ns/p1/uts";
    in_.pod.hostname = "pod-host";
    in_.pod.hostname_file = dir_.Path("pod/hostname");
    in_.pod.hosts_file = dir_.Path("pod/hosts");
    in_.pod.resolv_conf_file = dir_.Path("pod/resolv.conf");
    in_.pod.shm_path = dir_.Path("pod/shm");
    in_.pod.cgroups_path = "/kubepods/burstable/podabc/crius-c0ffee";
    in_.swap_limit_supported = true;
  }

  v1::LinuxContainerSecurityContext* security() {
    return config_.mutable_linux()->mutable_security_context();
  }
  v1::LinuxContainerResources* resources() { return config_.mutable_linux()->mutable_resources(); }
  v1::Mount* AddMount(const std::string& container_path, const std::string& host_path) {
    v1::Mount* m = config_.add_mounts();
    m->set_container_path(container_path);
    m->set_host_path(host_path);
    return m;
  }

  Spec Build() {
    auto spec = BuildContainerSpec(in_);
    EXPECT_TRUE(spec.ok()) << spec.status();
    if (!spec.ok()) return Spec();
    // Every spec must serialize.
    EXPECT_NO_THROW(ToJson(*spec).dump());
    return *std::move(spec);
  }
  absl::Status BuildError() { return BuildContainerSpec(in_).status(); }

  static const Mount* Find(const Spec& spec, const std::string& destination) {
    const Mount* found = nullptr;
    for (const auto& m : spec.mounts) {
      if (m.destination == destination) {
        EXPECT_EQ(found, nullptr) << "two mounts at " << destination;
        found = &m;
      }
    }
    return found;
  }

  testing::TempDir dir_;
  v1::ContainerConfig config_;
  v1::PodSandboxConfig sandbox_;
  ContainerSpecInput in_;
};

TEST(ContainerArgs, KubernetesCommandRules) {
  using V = std::vector<std::string>;
  struct Case {
    V command, args, entrypoint, cmd, want;
  };
  const Case cases[] = {
      {{}, {}, {"/ep"}, {"c1", "c2"}, {"/ep", "c1", "c2"}},
      {{"/cmd"}, {}, {"/ep"}, {"c1"}, {"/cmd"}},
      {{"/cmd"}, {"a1"}, {"/ep"}, {"c1"}, {"/cmd", "a1"}},
      {{}, {"a1", "a2"}, {"/ep"}, {"c1"}, {"/ep", "a1", "a2"}},
      {{}, {"/bin/sh"}, {}, {"c1"}, {"/bin/sh"}},
      {{}, {}, {}, {"/bin/sh", "-c", "x"}, {"/bin/sh", "-c", "x"}},
      {{}, {}, {""}, {"/bin/true"}, {"/bin/true"}},  // Entrypoint [""] = none
      {{}, {}, {"/ep"}, {}, {"/ep"}},
  };
  for (const auto& c : cases) {
    auto args = ContainerArgs(c.command, c.args, c.entrypoint, c.cmd);
    ASSERT_TRUE(args.ok()) << args.status();
    EXPECT_EQ(*args, c.want);
  }
  auto none = ContainerArgs({}, {}, {}, {});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("no command specified"));
  EXPECT_FALSE(ContainerArgs({}, {}, {""}, {}).ok());
}

TEST_F(ContainerSpecTest, ProcessFromImageAndRequest) {
  Spec spec = Build();
  EXPECT_THAT(spec.process.args, ElementsAre("/entry", "serve", "--port=80"));
  EXPECT_THAT(spec.process.env,
              ElementsAre("PATH=/image/bin", "HOSTNAME=pod-host", "LANG=C", "EMPTY"));
  EXPECT_EQ(spec.process.cwd, "/srv");
  EXPECT_FALSE(spec.process.terminal);
  EXPECT_EQ(spec.process.user.uid, 0u);
  EXPECT_FALSE(spec.process.no_new_privileges);
  EXPECT_THAT(spec.process.rlimits, IsEmpty()) << "limits are inherited from the runtime";
  EXPECT_EQ(spec.root.path, in_.rootfs);
  EXPECT_FALSE(spec.root.readonly);

  config_.add_command("/bin/sh");
  config_.add_args("-c");
  config_.add_args("true");
  auto* kv = config_.add_envs();
  kv->set_key("LANG");
  kv->set_value("en_US.UTF-8");
  kv = config_.add_envs();
  kv->set_key("NEW");
  kv->set_value("a=b");
  config_.set_working_dir("/work");
  config_.set_tty(true);
  security()->set_no_new_privs(true);
  security()->mutable_run_as_user()->set_value(1000);
  spec = Build();
  EXPECT_THAT(spec.process.args, ElementsAre("/bin/sh", "-c", "true"));
  EXPECT_THAT(spec.process.env, ElementsAre("PATH=/image/bin", "HOSTNAME=pod-host",
                                            "LANG=en_US.UTF-8", "EMPTY", "NEW=a=b"));
  EXPECT_EQ(spec.process.cwd, "/work");
  EXPECT_TRUE(spec.process.terminal);
  EXPECT_TRUE(spec.process.no_new_privileges);
  EXPECT_EQ(spec.process.user.uid, 1000u);
  EXPECT_EQ(spec.process.user.gid, 1000u);
  EXPECT_THAT(spec.process.user.additional_gids, ElementsAre(1000, 10));
}

TEST_F(ContainerSpecTest, EnvDefaultsWithoutImageEnv) {
  in_.image_config_json = R"({"config": {"Cmd": ["/bin/sh"]}})";
  Spec spec = Build();
  EXPECT_THAT(spec.process.env, ElementsAre(kDefaultPath, "HOSTNAME=pod-host"));
  EXPECT_EQ(spec.process.cwd, "/");

  std::vector<std::string> env = {"A=1", "B=2"};
  MergeEnv(env, {"B=3", "C=4", "A="});
  EXPECT_THAT(env, ElementsAre("A=", "B=3", "C=4"));
}

TEST_F(ContainerSpecTest, BadRequests) {
  in_.image_config_json = "{}";
  EXPECT_THAT(std::string(BuildError().message()), HasSubstr("no command specified"));
  in_.image_config_json = "{not json";
  EXPECT_EQ(BuildError().code(), absl::StatusCode::kFailedPrecondition);
  in_.image_config_json = R"({"config": {"Cmd": ["x"], "User": "nobody"}})";
  EXPECT_EQ(BuildError().code(), absl::StatusCode::kFailedPrecondition);
  in_.image_config_json = R"({"config": {"Cmd": ["x"]}})";
  config_.set_working_dir("relative");
  EXPECT_EQ(BuildError().code(), absl::StatusCode::kInvalidArgument);
  config_.clear_working_dir();
  security()->set_run_as_username("ghost");
  EXPECT_THAT(std::string(BuildError().message()), HasSubstr("run_as_username"));
  security()->clear_run_as_username();
  security()->mutable_capabilities()->add_add_capabilities("CAP_WIZARDRY");
  EXPECT_EQ(BuildError().code(), absl::StatusCode::kInvalidArgument);
  security()->clear_capabilities();
  in_.rootfs = "relative/rootfs";
  EXPECT_EQ(BuildError().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ContainerSpecTest, Namespaces) {
  Spec spec = Build();
  auto path_of = [&](const char* type) -> std::optional<std::string> {
    const Namespace* ns = spec.linux_spec.FindNamespace(type);
    if (ns == nullptr) return std::nullopt;
    return ns->path;
  };
  EXPECT_EQ(path_of(kNetworkNamespace), "/run/netns/p1");
  EXPECT_EQ(path_of(kIpcNamespace), "/run/crius/ns/p1/ipc");
  EXPECT_EQ(path_of(kUtsNamespace), "/run/crius/ns/p1/uts");
  EXPECT_EQ(path_of(kPidNamespace), "") << "POD without a shared pid ns: a new one";
  EXPECT_EQ(path_of(kMountNamespace), "");
  EXPECT_EQ(path_of(kCgroupNamespace), std::nullopt);
  EXPECT_EQ(path_of(kUserNamespace), std::nullopt);
  EXPECT_EQ(spec.hostname, "pod-host");

  in_.pod.pid_ns = "/proc/42/ns/pid";
  EXPECT_EQ(Build().linux_spec.FindNamespace(kPidNamespace)->path, "/proc/42/ns/pid");
  security()->mutable_namespace_options()->set_pid(v1::TARGET);
  EXPECT_EQ(Build().linux_spec.FindNamespace(kPidNamespace)->path, "/proc/42/ns/pid");
  security()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  EXPECT_EQ(Build().linux_spec.FindNamespace(kPidNamespace)->path, "");
  security()->mutable_namespace_options()->set_pid(v1::NODE);
  EXPECT_EQ(Build().linux_spec.FindNamespace(kPidNamespace), nullptr);

  // A host-network pod: the node's net and uts, no hostname.
  in_.pod.net_ns.clear();
  in_.pod.uts_ns.clear();
  in_.pod.cgroup_v2 = true;
  spec = Build();
  EXPECT_EQ(spec.linux_spec.FindNamespace(kNetworkNamespace), nullptr);
  EXPECT_EQ(spec.linux_spec.FindNamespace(kUtsNamespace), nullptr);
  EXPECT_TRUE(spec.hostname.empty());
  ASSERT_NE(spec.linux_spec.FindNamespace(kCgroupNamespace), nullptr);
  EXPECT_EQ(spec.linux_spec.FindNamespace(kCgroupNamespace)->path, "");
}

TEST_F(ContainerSpecTest, DefaultMountsAndPodFiles) {
  Spec spec = Build();
  std::vector<std::string> destinations;
  for (const auto& m : spec.mounts) destinations.push_back(m.destination);
  for (const char* d : {"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys",
                        "/sys/fs/cgroup", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"}) {
    EXPECT_THAT(destinations, Contains(d));
  }
  const Mount* shm = Find(spec, "/dev/shm");
  ASSERT_NE(shm, nullptr);
  EXPECT_EQ(shm->type, "bind");
  EXPECT_EQ(shm->source, in_.pod.shm_path);
  EXPECT_THAT(shm->options, Contains("rw"));
  const Mount* hosts = Find(spec, "/etc/hosts");
  ASSERT_NE(hosts, nullptr);
  EXPECT_EQ(hosts->source, in_.pod.hosts_file);
  EXPECT_THAT(hosts->options, ElementsAre("rbind", "rprivate", "rw"));
  EXPECT_THAT(Find(spec, "/sys")->options, Contains("ro"));
  EXPECT_THAT(Find(spec, "/sys/fs/cgroup")->options, Contains("ro"));
  EXPECT_EQ(Find(spec, "/dev/termination-log"), nullptr);

  // IPC NODE: the node's /dev/shm; a read-only rootfs makes the pod files
  // read-only but not /dev/shm.
  in_.pod.shm_path.clear();
  security()->set_readonly_rootfs(true);
  in_.termination_log_host_path = dir_.Path("pod/termination-log");
  spec = Build();
  EXPECT_EQ(Find(spec, "/dev/shm")->source, "/dev/shm");
  EXPECT_THAT(Find(spec, "/dev/shm")->options, Contains("rw"));
  EXPECT_THAT(Find(spec, "/etc/resolv.conf")->options, Contains("ro"));
  EXPECT_TRUE(spec.root.readonly);
  ASSERT_NE(Find(spec, "/dev/termination-log"), nullptr);
  EXPECT_EQ(Find(spec, "/dev/termination-log")->source, in_.termination_log_host_path);
}

TEST_F(ContainerSpecTest, CriMountsOrderReadonlyPropagationAndOverride) {
  AddMount("/data/a/b", dir_.Path("vol/a/b"))->set_readonly(true);
  AddMount("/data//a/", dir_.Path("vol/a"))->set_propagation(v1::PROPAGATION_HOST_TO_CONTAINER);
  AddMount("/data", dir_.Path("vol"));
  AddMount("/etc/hosts", dir_.Path("vol/a/b"));  // kubelet's own /etc/hosts
  Spec spec = Build();

  for (size_t i = 1; i < spec.mounts.size(); ++i) {
    auto depth = [](const std::string& d) { return std::count(d.begin(), d.end(), '/'); };
    EXPECT_LE(depth(spec.mounts[i - 1].destination), depth(spec.mounts[i].destination))
        << spec.mounts[i - 1].destination << " before " << spec.mounts[i].destination;
  }
  auto index = [&](const std::string& d) {
    for (size_t i = 0; i < spec.mounts.size(); ++i) {
      if (spec.mounts[i].destination == d) return i;
    }
    return spec.mounts.size();
  };
  EXPECT_LT(index("/data"), index("/data/a"));
  EXPECT_LT(index("/data/a"), index("/data/a/b"));
  EXPECT_THAT(Find(spec, "/data/a/b")->options, ElementsAre("rbind", "rprivate", "ro"));
  EXPECT_THAT(Find(spec, "/data/a")->options, ElementsAre("rbind", "rslave", "rw"));
  EXPECT_EQ(Find(spec, "/etc/hosts")->source, dir_.Path("vol/a/b"));
  EXPECT_EQ(ToJson(spec).at("linux").at("rootfsPropagation"), "rslave");

  AddMount("/shared", dir_.Path("vol"))->set_propagation(v1::PROPAGATION_BIDIRECTIONAL);
  spec = Build();
  EXPECT_THAT(Find(spec, "/shared")->options, Contains("rshared"));
  EXPECT_EQ(ToJson(spec).at("linux").at("rootfsPropagation"), "rshared");

  // A CRI mount over a default one replaces it (one mount per target).
  AddMount("/dev/shm", dir_.Path("vol/a"));
  AddMount("/dev/termination-log", dir_.Path("pod/termination-log"));
  in_.termination_log_host_path = dir_.Path("pod/hosts");
  spec = Build();
  EXPECT_EQ(Find(spec, "/dev/shm")->source, dir_.Path("vol/a"));
  EXPECT_EQ(Find(spec, "/dev/termination-log")->source, dir_.Path("pod/termination-log"));
}

TEST_F(ContainerSpecTest, PrivatePropagationLeavesTheRootAlone) {
  AddMount("/data", dir_.Path("vol"));
  EXPECT_FALSE(ToJson(Build()).at("linux").contains("rootfsPropagation"));
}

TEST_F(ContainerSpecTest, BadMounts) {
  struct Case {
    std::string container_path, host_path;
  };
  const Case cases[] = {
      {"relative", dir_.Path("vol")},
      {"/a/../etc", dir_.Path("vol")},
      {"/", dir_.Path("vol")},
      {"/data", "relative"},
      {"/data", dir_.Path("vol/../vol")},
      {"/data", dir_.Path("does-not-exist")},
  };
  for (const auto& c : cases) {
    config_.clear_mounts();
    AddMount(c.container_path, c.host_path);
    absl::Status s = BuildError();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.container_path << " " << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("mounts[0]"));
  }
  config_.clear_mounts();
  auto* m = AddMount("/data", dir_.Path("vol"));
  m->set_readonly(true);
  m->set_recursive_read_only(true);
  EXPECT_THAT(std::string(BuildError().message()),
              HasSubstr("recursive read-only mounts are not supported by the runtime"));
  m->set_recursive_read_only(false);
  m->set_selinux_relabel(true);  // ignored
  EXPECT_TRUE(BuildError().ok());
}

TEST_F(ContainerSpecTest, MaskedAndReadonlyPaths) {
  Spec spec = Build();
  std::vector<std::string> masked = DefaultMaskedPaths();
  masked.push_back("/sys/devices/virtual/powercap");
  EXPECT_EQ(spec.linux_spec.masked_paths, masked);
  EXPECT_EQ(spec.linux_spec.readonly_paths, DefaultReadonlyPaths());
  EXPECT_THAT(spec.linux_spec.masked_paths, Contains("/proc/kcore"));

  security()->add_masked_paths("/proc/custom");
  security()->add_readonly_paths("/proc/ro");
  spec = Build();
  EXPECT_THAT(spec.linux_spec.masked_paths, ElementsAre("/proc/custom"));
  EXPECT_THAT(spec.linux_spec.readonly_paths, ElementsAre("/proc/ro"));

  security()->set_privileged(true);
  spec = Build();
  EXPECT_THAT(spec.linux_spec.masked_paths, IsEmpty());
  EXPECT_THAT(spec.linux_spec.readonly_paths, IsEmpty());
}

TEST_F(ContainerSpecTest, Privileged) {
  security()->set_privileged(true);
  security()->mutable_seccomp()->set_profile_type(v1::SecurityProfile::RuntimeDefault);
  security()->mutable_capabilities()->add_drop_capabilities("ALL");
  in_.apparmor_enabled = true;
  security()->mutable_apparmor()->set_profile_type(v1::SecurityProfile::Localhost);
  security()->mutable_apparmor()->set_localhost_ref("my-profile");
  Spec spec = Build();
  EXPECT_EQ(spec.process.capabilities.bounding, AllCapabilities());
  EXPECT_EQ(spec.process.capabilities.effective, AllCapabilities());
  EXPECT_FALSE(spec.linux_spec.seccomp.has_value());
  EXPECT_FALSE(spec.process.extra.contains("apparmorProfile"));
  EXPECT_THAT(Find(spec, "/sys")->options, Not(Contains("ro")));
  EXPECT_THAT(Find(spec, "/sys/fs/cgroup")->options, Contains("rw"));
  json j = ToJson(spec);
  EXPECT_EQ(j.at("linux").at("resources").at("devices"),
            json::array({{{"allow", true}, {"access", "rwm"}}}));
  // The host's device nodes (at least /dev/null) are listed.
  bool has_null = false;
  for (const auto& d : j.at("linux").value("devices", json::array())) {
    has_null = has_null || d.at("path") == "/dev/null";
  }
  EXPECT_TRUE(has_null);
}

TEST_F(ContainerSpecTest, Devices) {
  auto* d = config_.add_devices();
  d->set_container_path("/dev/mynull");
  d->set_host_path("/dev/null");
  d->set_permissions("rw");
  json j = ToJson(Build());
  ASSERT_EQ(j.at("linux").at("devices").size(), 1u);
  EXPECT_EQ(j["linux"]["devices"][0].at("path"), "/dev/mynull");
  EXPECT_EQ(j["linux"]["devices"][0].at("type"), "c");
  EXPECT_EQ(j["linux"]["devices"][0].at("major"), 1);
  EXPECT_EQ(j["linux"]["devices"][0].at("minor"), 3);
  const json& rules = j["linux"]["resources"]["devices"];
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0], (json{{"allow", false}, {"access", "rwm"}}));
  EXPECT_EQ(rules[1],
            (json{{"allow", true}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"access", "rw"}}));
  d->set_permissions("rwx");
  EXPECT_EQ(BuildError().code(), absl::StatusCode::kInvalidArgument);
  d->set_permissions("r");
  d->set_host_path(dir_.Path("pod/hosts"));
  EXPECT_EQ(BuildError().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ContainerSpecTest, Seccomp) {
  EXPECT_FALSE(Build().linux_spec.seccomp.has_value()) << "no profile asked: unconfined";
  security()->mutable_seccomp()->set_profile_type(v1::SecurityProfile::RuntimeDefault);
  Spec spec = Build();
  ASSERT_TRUE(spec.linux_spec.seccomp.has_value());
  EXPECT_EQ(spec.linux_spec.seccomp->at("defaultAction"), "SCMP_ACT_ERRNO");
  EXPECT_EQ(ToJson(spec).at("linux").at("seccomp").at("defaultAction"), "SCMP_ACT_ERRNO");

  ASSERT_TRUE(WriteFileAtomic(dir_.Path("profile.json"),
                              R"({"defaultAction": "SCMP_ACT_LOG", "syscalls": []})")
                  .ok());
  security()->mutable_seccomp()->set_profile_type(v1::SecurityProfile::Localhost);
  security()->mutable_seccomp()->set_localhost_ref(dir_.Path("profile.json"));
  EXPECT_EQ(Build().linux_spec.seccomp->at("defaultAction"), "SCMP_ACT_LOG");
  security()->mutable_seccomp()->set_localhost_ref(dir_.Path("missing.json"));
  EXPECT_EQ(BuildError().code(), absl::StatusCode::kNotFound);
}

TEST_F(ContainerSpecTest, AppArmorOnlyWhenTheHostHasIt) {
  security()->mutable_apparmor()->set_profile_type(v1::SecurityProfile::Localhost);
  security()->mutable_apparmor()->set_localhost_ref("k8s-nginx");
  EXPECT_FALSE(Build().process.extra.contains("apparmorProfile"));
  in_.apparmor_enabled = true;
  Spec spec = Build();
  EXPECT_EQ(ToJson(spec).at("process").at("apparmorProfile"), "k8s-nginx");
  security()->mutable_apparmor()->set_profile_type(v1::SecurityProfile::Unconfined);
  EXPECT_FALSE(Build().process.extra.contains("apparmorProfile"));
}

TEST_F(ContainerSpecTest, Resources) {
  resources()->set_cpu_shares(512);
  resources()->set_cpu_quota(50000);
  resources()->set_cpu_period(100000);
  resources()->set_cpuset_cpus("0-1");
  resources()->set_cpuset_mems("0");
  resources()->set_memory_limit_in_bytes(64 << 20);
  auto* h = resources()->add_hugepage_limits();
  h->set_page_size("2MB");
  h->set_limit(4 << 20);
  (*resources()->mutable_unified())["memory.high"] = "50000000";
  json r = ToJson(Build()).at("linux").at("resources");
  EXPECT_EQ(
      r.at("cpu"),
      (json{
          {"shares", 512}, {"quota", 50000}, {"period", 100000}, {"cpus", "0-1"}, {"mems", "0"}}));
  EXPECT_EQ(r.at("memory"), (json{{"limit", 64 << 20}, {"swap", 64 << 20}}));
  EXPECT_EQ(r.at("hugepageLimits"), json::array({{{"pageSize", "2MB"}, {"limit", 4 << 20}}}));
  EXPECT_FALSE(r.contains("unified")) << "runc refuses unified keys on cgroup v1";

  in_.pod.cgroup_v2 = true;
  resources()->set_memory_swap_limit_in_bytes(128 << 20);
  r = ToJson(Build()).at("linux").at("resources");
  EXPECT_EQ(r.at("memory").at("swap"), 128 << 20);
  EXPECT_EQ(r.at("unified"), (json{{"memory.high", "50000000"}}));

  in_.swap_limit_supported = false;
  r = ToJson(Build()).at("linux").at("resources");
  EXPECT_EQ(r.at("memory"), (json{{"limit", 64 << 20}}));

  config_.mutable_linux()->clear_resources();
  r = ToJson(Build()).at("linux").at("resources");
  EXPECT_FALSE(r.contains("cpu"));
  EXPECT_FALSE(r.contains("memory"));
}

TEST_F(ContainerSpecTest, CgroupsPathIsTheCgroupManagers) {
  EXPECT_EQ(Build().linux_spec.cgroups_path, "/kubepods/burstable/podabc/crius-c0ffee");
  in_.pod.cgroups_path = "kubepods-burstable-podabc.slice:crius:c0ffee";
  EXPECT_EQ(ToJson(Build()).at("linux").at("cgroupsPath"),
            "kubepods-burstable-podabc.slice:crius:c0ffee");
}

TEST_F(ContainerSpecTest, OomScoreAdjClampedToTheNodeFloor) {
  EXPECT_EQ(Build().process.oom_score_adj, 0);
  resources()->set_oom_score_adj(-997);
  EXPECT_EQ(Build().process.oom_score_adj, -997);
  in_.oom_score_adj_min = -500;
  EXPECT_EQ(Build().process.oom_score_adj, -500);
  resources()->set_oom_score_adj(1000);
  EXPECT_EQ(Build().process.oom_score_adj, 1000);
  resources()->set_oom_score_adj(5000);
  EXPECT_EQ(Build().process.oom_score_adj, 1000);
}

TEST_F(ContainerSpecTest, Annotations) {
  (*config_.mutable_annotations())["team"] = "web";
  (*config_.mutable_annotations())[kAnnotationSandboxId] = "spoofed";
  Spec spec = Build();
  EXPECT_EQ(spec.annotations.at("team"), "web");
  EXPECT_EQ(spec.annotations.at(kAnnotationContainerType), "container");
  EXPECT_EQ(spec.annotations.at(kAnnotationSandboxId), "sandbox1");
  EXPECT_EQ(spec.annotations.at(kAnnotationContainerName), "web");
  EXPECT_EQ(spec.annotations.at(kAnnotationImageName), "docker.io/library/busybox:latest");
  EXPECT_EQ(spec.annotations.at(kAnnotationSandboxName), "pod-name");
  EXPECT_EQ(spec.annotations.at(kAnnotationSandboxNamespace), "pod-ns");
  EXPECT_EQ(spec.annotations.at(kAnnotationSandboxUid), "pod-uid");
  in_.pod.sandbox_name = "from-context";
  EXPECT_EQ(Build().annotations.at(kAnnotationSandboxName), "from-context");
}

TEST(StopSignal, ImageStopSignalForms) {
  auto with = [](const std::string& signal) {
    return StopSignalOf(absl::StrCat(R"({"config": {"StopSignal": ")", signal, R"("}})"));
  };
  EXPECT_EQ(*StopSignalOf(""), SIGTERM);
  EXPECT_EQ(*StopSignalOf("{}"), SIGTERM);
  EXPECT_EQ(*StopSignalOf(R"({"config": {}})"), SIGTERM);
  EXPECT_EQ(*with("SIGQUIT"), SIGQUIT);
  EXPECT_EQ(*with("quit"), SIGQUIT);
  EXPECT_EQ(*with("SIGKILL"), SIGKILL);
  EXPECT_EQ(*with("15"), 15);
  EXPECT_EQ(*with("SIGRTMIN+3"), 37);
  EXPECT_EQ(*with("SIGRTMAX"), 64);
  EXPECT_EQ(*with("RTMAX-2"), 62);
  EXPECT_EQ(*with("SIGWINCH"), SIGWINCH);
  for (const char* bad : {"SIGNOPE", "0", "65", "SIGRTMIN+40", "-1"}) {
    EXPECT_EQ(with(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(StopSignalOf("{oops").ok());
}

}  // namespace
}  // namespace crius::oci
