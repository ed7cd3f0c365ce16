// The validation layer, table-driven: each row is one hostile or
// out-of-range field of a request that is otherwise what kubelet sends, and
// must come back INVALID_ARGUMENT naming that field. The kubelet-shaped
// requests themselves must pass, so a rule can never refuse real traffic.

#include "server/validate.h"

#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crius::server {
namespace {

using runtime::v1::ContainerConfig;
using runtime::v1::CreateContainerRequest;
using runtime::v1::LinuxContainerResources;
using runtime::v1::PodSandboxConfig;
using runtime::v1::RunPodSandboxRequest;
using runtime::v1::SecurityProfile;
using ::testing::HasSubstr;

// What kubelet sends for a pod of a Deployment.
PodSandboxConfig KubeletPod() {
  PodSandboxConfig c;
  c.mutable_metadata()->set_name("web-7d9f8b6c5d-x2x7q");
  c.mutable_metadata()->set_namespace_("default");
  c.mutable_metadata()->set_uid("8f4e8a1c-3f2b-4a57-9d0e-1c2b3a4d5e6f");
  c.set_hostname("web-7d9f8b6c5d-x2x7q");
  c.set_log_directory("/var/log/pods/default_web-7d9f8b6c5d-x2x7q_8f4e8a1c-3f2b-4a57-9d0e-1c2b3a4d5e6f");
  c.mutable_dns_config()->add_servers("10.96.0.10");
  c.mutable_dns_config()->add_searches("default.svc.cluster.local");
  c.mutable_dns_config()->add_options("ndots:5");
  (*c.mutable_labels())["io.kubernetes.pod.name"] = c.metadata().name();
  (*c.mutable_labels())["io.kubernetes.pod.namespace"] = "default";
  (*c.mutable_labels())["io.kubernetes.pod.uid"] = c.metadata().uid();
  (*c.mutable_labels())["app"] = "web";
  (*c.mutable_annotations())["kubernetes.io/config.seen"] = "2026-12-04T14:00:00.000000000Z";
  (*c.mutable_annotations())["kubernetes.io/config.source"] = "api";
  c.mutable_linux()->set_cgroup_parent("/kubepods/burstable/pod8f4e8a1c-3f2b-4a57-9d0e-1c2b3a4d5e6f");
  c.mutable_linux()->mutable_security_context()->mutable_seccomp()->set_profile_type(
      SecurityProfile::RuntimeDefault);
  return c;
}

ContainerConfig KubeletContainer() {
  ContainerConfig c;
  c.mutable_metadata()->set_name("nginx");
  c.mutable_metadata()->set_attempt(0);
  c.mutable_image()->set_image("docker.io/library/nginx:1.25");
  c.add_command("/docker-entrypoint.sh");
  c.add_args("nginx");
  c.add_args("-g");
  c.add_args("daemon off;");
  c.set_working_dir("/usr/share/nginx");
  auto* env = c.add_envs();
  env->set_key("KUBERNETES_SERVICE_HOST");
  env->set_value("10.96.0.1");
  auto* m = c.add_mounts();
  m->set_container_path("/var/run/secrets/kubernetes.io/serviceaccount");
  m->set_host_path("/var/lib/kubelet/pods/8f4e/volumes/kubernetes.io~projected/kube-api-access-abcde");
  m->set_readonly(true);
  auto* tl = c.add_mounts();
  tl->set_container_path("/dev/termination-log");
  tl->set_host_path("/var/lib/kubelet/pods/8f4e/containers/nginx/3c1a2b9e");
  c.set_log_path("nginx/0.log");
  (*c.mutable_labels())["io.kubernetes.container.name"] = "nginx";
  (*c.mutable_labels())["io.kubernetes.pod.name"] = "web-7d9f8b6c5d-x2x7q";
  (*c.mutable_annotations())["io.kubernetes.container.hash"] = "5b1c4a2e";
  (*c.mutable_annotations())["io.kubernetes.container.terminationMessagePath"] = "/dev/termination-log";
  auto* res = c.mutable_linux()->mutable_resources();
  res->set_cpu_period(100000);
  res->set_cpu_quota(50000);
  res->set_cpu_shares(512);
  res->set_memory_limit_in_bytes(256 << 20);
  res->set_oom_score_adj(968);
  auto* sc = c.mutable_linux()->mutable_security_context();
  sc->mutable_seccomp()->set_profile_type(SecurityProfile::RuntimeDefault);
  sc->add_masked_paths("/proc/kcore");
  sc->add_readonly_paths("/proc/sys");
  return c;
}

CreateContainerRequest KubeletCreate() {
  CreateContainerRequest req;
  req.set_pod_sandbox_id("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  *req.mutable_config() = KubeletContainer();
  *req.mutable_sandbox_config() = KubeletPod();
  return req;
}

TEST(ValidateTest, WhatKubeletSendsPasses) {
  RunPodSandboxRequest run;
  *run.mutable_config() = KubeletPod();
  EXPECT_TRUE(ValidateRequest(run).ok()) << ValidateRequest(run);
  EXPECT_TRUE(ValidateRequest(KubeletCreate()).ok()) << ValidateRequest(KubeletCreate());

  // crictl and critest spell names with upper case; the longest names
  // Kubernetes allows pass too.
  run.mutable_config()->mutable_metadata()->set_name("PodSandbox-for-create-container-" + std::string(221, 'a'));
  run.mutable_config()->mutable_metadata()->set_namespace_(std::string(63, 'n'));
  (*run.mutable_config()->mutable_labels())["io.kubernetes.pod.name"] = run.config().metadata().name();
  EXPECT_TRUE(ValidateRequest(run).ok()) << ValidateRequest(run);
}

struct Row {
  std::string what;
  std::function<void(PodSandboxConfig&)> pod;
  std::function<void(ContainerConfig&)> container;
  std::string field;  // the field the error must name
};

std::string Long(size_t n) { return std::string(n, 'a'); }
const std::string kNul("a\0b", 3);

std::vector<Row> PodRows() {
  return {
      {"a 10,000-character pod name", [](auto& c) { c.mutable_metadata()->set_name(Long(10000)); }, nullptr,
       "config.metadata.name"},
      {"a 254-character pod name", [](auto& c) { c.mutable_metadata()->set_name(Long(254)); }, nullptr,
       "config.metadata.name"},
      {"a 64-character namespace", [](auto& c) { c.mutable_metadata()->set_namespace_(Long(64)); }, nullptr,
       "config.metadata.namespace"},
      {"a name that breaks CNI_ARGS", [](auto& c) { c.mutable_metadata()->set_name("a;IgnoreUnknown=1"); },
       nullptr, "config.metadata.name"},
      {"a NUL in the uid", [](auto& c) { c.mutable_metadata()->set_uid(kNul); }, nullptr,
       "config.metadata.uid"},
      {"a relative log directory", [](auto& c) { c.set_log_directory("var/log/pods/x"); }, nullptr,
       "config.log_directory"},
      {"a log directory with ..", [](auto& c) { c.set_log_directory("/var/log/pods/../../etc"); }, nullptr,
       "config.log_directory"},
      {"a NUL in the log directory", [](auto& c) { c.set_log_directory("/var/log/" + kNul); }, nullptr,
       "config.log_directory"},
      {"a newline in a DNS search", [](auto& c) { c.mutable_dns_config()->add_searches("x\nnameserver 6.6.6.6"); },
       nullptr, "config.dns_config.searches"},
      {"a port past 65535", [](auto& c) { c.add_port_mappings()->set_host_port(70000); }, nullptr,
       "config.port_mappings"},
      {"a label key with a space", [](auto& c) { (*c.mutable_labels())["bad key"] = "v"; }, nullptr,
       "config.labels"},
      {"a label key name of 64", [](auto& c) { (*c.mutable_labels())[Long(64)] = "v"; }, nullptr,
       "config.labels"},
      {"a label key with an upper-case prefix", [](auto& c) { (*c.mutable_labels())["Example.com/k"] = "v"; },
       nullptr, "config.labels"},
      {"a label value of 254", [](auto& c) { (*c.mutable_labels())["k"] = Long(254); }, nullptr,
       "config.labels"},
      {"a label value ending in '-'", [](auto& c) { (*c.mutable_labels())["k"] = "v-"; }, nullptr,
       "config.labels"},
      {"annotations over 256 KiB", [](auto& c) { (*c.mutable_annotations())["k"] = Long(300 * 1024); }, nullptr,
       "config.annotations"},
      {"a cgroup parent with ..", [](auto& c) { c.mutable_linux()->set_cgroup_parent("/kubepods/../../etc"); },
       nullptr, "config.linux.cgroup_parent"},
      {"a relative cgroup parent", [](auto& c) { c.mutable_linux()->set_cgroup_parent("kubepods/pod1"); },
       nullptr, "config.linux.cgroup_parent"},
      {"a pod seccomp profile with ..",
       [](auto& c) {
         auto* p = c.mutable_linux()->mutable_security_context()->mutable_seccomp();
         p->set_profile_type(SecurityProfile::Localhost);
         p->set_localhost_ref("/var/lib/kubelet/seccomp/../../../etc/shadow");
       },
       nullptr, "config.linux.security_context.seccomp.localhost_ref"},
      {"negative pod overhead memory",
       [](auto& c) { c.mutable_linux()->mutable_overhead()->set_memory_limit_in_bytes(-1); }, nullptr,
       "config.linux.overhead.memory_limit_in_bytes"},
  };
}

std::vector<Row> ContainerRows() {
  auto res = [](std::function<void(LinuxContainerResources&)> f) {
    return [f](ContainerConfig& c) { f(*c.mutable_linux()->mutable_resources()); };
  };
  return {
      {"a log path climbing out with ..", nullptr, [](auto& c) { c.set_log_path("../../../../etc/cron.d/x"); },
       "config.log_path"},
      {"a log path with .. in the middle", nullptr, [](auto& c) { c.set_log_path("nginx/../../x.log"); },
       "config.log_path"},
      {"an absolute log path", nullptr, [](auto& c) { c.set_log_path("/etc/passwd"); }, "config.log_path"},
      {"a NUL in the log path", nullptr, [](auto& c) { c.set_log_path("x" + kNul); }, "config.log_path"},
      {"a 10,000-character container name", nullptr,
       [](auto& c) { c.mutable_metadata()->set_name(Long(10000)); }, "config.metadata.name"},
      {"a container name with '/'", nullptr, [](auto& c) { c.mutable_metadata()->set_name("a/b"); },
       "config.metadata.name"},
      {"a NUL in the command", nullptr, [](auto& c) { c.set_command(0, "/bin/sh" + kNul); }, "config.command"},
      {"a NUL in an argument", nullptr, [](auto& c) { c.add_args(kNul); }, "config.args"},
      {"a NUL in an env value", nullptr, [](auto& c) { c.mutable_envs(0)->set_value(kNul); }, "config.envs"},
      {"a NUL in an env key", nullptr, [](auto& c) { c.mutable_envs(0)->set_key(kNul); }, "config.envs.key"},
      {"'=' in an env key", nullptr, [](auto& c) { c.mutable_envs(0)->set_key("A=B"); }, "config.envs.key"},
      {"a relative working dir", nullptr, [](auto& c) { c.set_working_dir("tmp"); }, "config.working_dir"},
      {"a working dir with a NUL", nullptr, [](auto& c) { c.set_working_dir("/tmp" + kNul); },
       "config.working_dir"},
      {"a relative mount target", nullptr, [](auto& c) { c.mutable_mounts(0)->set_container_path("etc"); },
       "config.mounts.container_path"},
      {"a mount target with ..", nullptr,
       [](auto& c) { c.mutable_mounts(0)->set_container_path("/data/../../../host"); },
       "config.mounts.container_path"},
      {"a mount source with ..", nullptr,
       [](auto& c) { c.mutable_mounts(0)->set_host_path("/var/lib/kubelet/../../../etc"); },
       "config.mounts.host_path"},
      {"a relative mount source", nullptr, [](auto& c) { c.mutable_mounts(0)->set_host_path("etc"); },
       "config.mounts.host_path"},
      {"a device path with ..", nullptr,
       [](auto& c) {
         auto* d = c.add_devices();
         d->set_host_path("/dev/../etc/shadow");
         d->set_container_path("/dev/x");
         d->set_permissions("rwm");
       },
       "config.devices.host_path"},
      {"a seccomp profile outside with ..", nullptr,
       [](auto& c) {
         auto* p = c.mutable_linux()->mutable_security_context()->mutable_seccomp();
         p->set_profile_type(SecurityProfile::Localhost);
         p->set_localhost_ref("/var/lib/kubelet/seccomp/../../../../etc/shadow");
       },
       "config.linux.security_context.seccomp.localhost_ref"},
      {"a relative seccomp profile", nullptr,
       [](auto& c) {
         auto* p = c.mutable_linux()->mutable_security_context()->mutable_seccomp();
         p->set_profile_type(SecurityProfile::Localhost);
         p->set_localhost_ref("profile.json");
       },
       "config.linux.security_context.seccomp.localhost_ref"},
      {"an empty AppArmor localhost profile", nullptr,
       [](auto& c) {
         c.mutable_linux()->mutable_security_context()->mutable_apparmor()->set_profile_type(
             SecurityProfile::Localhost);
       },
       "config.linux.security_context.apparmor.localhost_ref"},
      {"a newline in an AppArmor profile", nullptr,
       [](auto& c) {
         auto* p = c.mutable_linux()->mutable_security_context()->mutable_apparmor();
         p->set_profile_type(SecurityProfile::Localhost);
         p->set_localhost_ref("p\nchangeprofile unconfined");
       },
       "config.linux.security_context.apparmor.localhost_ref"},
      {"a masked path with ..", nullptr,
       [](auto& c) { c.mutable_linux()->mutable_security_context()->add_masked_paths("/proc/../etc"); },
       "config.linux.security_context.masked_paths"},
      {"a negative memory limit", nullptr, res([](auto& r) { r.set_memory_limit_in_bytes(-1); }),
       "config.linux.resources.memory_limit_in_bytes"},
      {"negative CPU shares", nullptr, res([](auto& r) { r.set_cpu_shares(-2); }),
       "config.linux.resources.cpu_shares"},
      {"CPU shares past the kernel's maximum", nullptr, res([](auto& r) { r.set_cpu_shares(262145); }),
       "config.linux.resources.cpu_shares"},
      {"a CPU quota below -1", nullptr, res([](auto& r) { r.set_cpu_quota(-5); }),
       "config.linux.resources.cpu_quota"},
      {"a CPU period of 10 s", nullptr, res([](auto& r) { r.set_cpu_period(10000000); }),
       "config.linux.resources.cpu_period"},
      {"an oom_score_adj of 5000", nullptr, res([](auto& r) { r.set_oom_score_adj(5000); }),
       "config.linux.resources.oom_score_adj"},
      {"a swap limit below -1", nullptr, res([](auto& r) { r.set_memory_swap_limit_in_bytes(-2); }),
       "config.linux.resources.memory_swap_limit_in_bytes"},
      {"a cpuset that is not a list", nullptr, res([](auto& r) { r.set_cpuset_cpus("0-1\n"); }),
       "config.linux.resources.cpuset_cpus"},
      {"a hugepage size that is not one", nullptr,
       res([](auto& r) { r.add_hugepage_limits()->set_page_size("../2MB"); }),
       "config.linux.resources.hugepage_limits.page_size"},
      {"a unified key that is a path", nullptr,
       res([](auto& r) { (*r.mutable_unified())["../../memory.max"] = "1"; }),
       "config.linux.resources.unified"},
      {"a container label key with a NUL", nullptr, [](auto& c) { (*c.mutable_labels())[kNul] = "v"; },
       "config.labels"},
      {"a container annotation value with a NUL", nullptr,
       [](auto& c) { (*c.mutable_annotations())["k"] = kNul; }, "config.annotations"},
  };
}

TEST(ValidateTest, EveryHostileFieldIsInvalidArgumentNamingTheField) {
  std::vector<Row> rows = PodRows();
  for (Row& r : ContainerRows()) rows.push_back(std::move(r));
  int checked = 0;
  for (const Row& row : rows) {
    SCOPED_TRACE(row.what);
    absl::Status s;
    if (row.pod) {
      RunPodSandboxRequest run;
      *run.mutable_config() = KubeletPod();
      row.pod(*run.mutable_config());
      s = ValidateRequest(run);
    } else {
      CreateContainerRequest create = KubeletCreate();
      row.container(*create.mutable_config());
      s = ValidateRequest(create);
    }
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(row.field));
    ++checked;
  }
  EXPECT_GE(checked, 50);
}

TEST(ValidateTest, UpdateContainerResourcesRefusesOutOfRangeValues) {
  runtime::v1::UpdateContainerResourcesRequest req;
  req.set_container_id("abc");
  req.mutable_linux()->set_memory_limit_in_bytes(128 << 20);
  EXPECT_TRUE(ValidateRequest(req).ok());
  req.mutable_linux()->set_memory_limit_in_bytes(-100);
  absl::Status s = ValidateRequest(req);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("linux.memory_limit_in_bytes"));

  runtime::v1::UpdatePodSandboxResourcesRequest pod;
  pod.set_pod_sandbox_id("abc");
  pod.mutable_resources()->set_cpu_shares(-1);
  EXPECT_EQ(ValidateRequest(pod).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidateTest, ExecCommandsWithNulAreRefused) {
  runtime::v1::ExecSyncRequest sync;
  sync.set_container_id("abc");
  sync.add_cmd("ls");
  EXPECT_TRUE(ValidateRequest(sync).ok());
  sync.add_cmd(kNul);
  EXPECT_EQ(ValidateRequest(sync).code(), absl::StatusCode::kInvalidArgument);

  runtime::v1::ExecRequest exec;
  exec.set_container_id("abc");
  exec.set_stdout(true);
  exec.add_cmd("sh" + kNul);
  EXPECT_EQ(ValidateRequest(exec).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidateTest, RefusedValuesAreShownShortAndWithoutControlBytes) {
  CreateContainerRequest create = KubeletCreate();
  create.mutable_config()->set_log_path("../" + std::string(5000, 'x') + "\n");
  absl::Status s = ValidateRequest(create);
  ASSERT_FALSE(s.ok());
  EXPECT_LT(s.message().size(), 300u);
  EXPECT_EQ(s.message().find('\n'), absl::string_view::npos);
}

}  // namespace
}  // namespace crius::server
