// The spec builder's JSON: the field names and shapes runc reads, the
// defaults it starts from, and the extension points.

#include "oci/spec.h"

#include <sys/stat.h>

#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/unit/common/temp_dir.h"

namespace crius::oci {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> Destinations(const json& mounts) {
  std::vector<std::string> out;
  for (const auto& m : mounts) out.push_back(m.at("destination").get<std::string>());
  return out;
}

TEST(SpecJson, DefaultSpecIsLockedDownAndComplete) {
  json j = ToJson(DefaultSpec());
  EXPECT_EQ(j.at("ociVersion"), kOciVersion);

  const json& p = j.at("process");
  EXPECT_EQ(p.at("terminal"), false);
  EXPECT_EQ(p.at("cwd"), "/");
  EXPECT_EQ(p.at("noNewPrivileges"), true);
  EXPECT_EQ(p.at("user"), (json{{"uid", 0}, {"gid", 0}}));
  // Every capability set is present and empty: an absent object would mean
  // "keep all of root's capabilities" to runc.
  for (const char* set : {"bounding", "effective", "inheritable", "permitted", "ambient"}) {
    ASSERT_TRUE(p.at("capabilities").contains(set)) << set;
    EXPECT_TRUE(p.at("capabilities").at(set).is_array()) << set;
    EXPECT_TRUE(p.at("capabilities").at(set).empty()) << set;
  }
  EXPECT_EQ(p.at("rlimits"),
            (json::array({{{"type", "RLIMIT_NOFILE"}, {"soft", 1024}, {"hard", 1024}}})));
  EXPECT_FALSE(p.contains("oomScoreAdj")) << "unset means inherit, never a default value";

  EXPECT_EQ(j.at("root"), (json{{"path", "rootfs"}, {"readonly", false}}));
  EXPECT_FALSE(j.contains("hostname"));
  EXPECT_THAT(Destinations(j.at("mounts")),
              ElementsAre("/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"));
  EXPECT_EQ(j.at("mounts")[5], (json{{"destination", "/sys"},
                                     {"type", "sysfs"},
                                     {"source", "sysfs"},
                                     {"options", {"nosuid", "noexec", "nodev", "ro"}}}));

  const json& l = j.at("linux");
  std::vector<std::string> types;
  for (const auto& ns : l.at("namespaces")) {
    types.push_back(ns.at("type"));
    EXPECT_FALSE(ns.contains("path")) << "new namespaces carry no path";
  }
  EXPECT_THAT(types, ElementsAre("pid", "network", "ipc", "uts", "mount"));
  EXPECT_THAT(l.at("maskedPaths"), Contains("/proc/kcore"));
  EXPECT_THAT(l.at("maskedPaths"), Contains("/sys/firmware"));
  EXPECT_EQ(l.at("maskedPaths").size(), 10u);
  EXPECT_EQ(l.at("readonlyPaths"),
            (json{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}));
  EXPECT_EQ(l.at("resources"), json::object());
  EXPECT_FALSE(l.contains("cgroupsPath"));
  EXPECT_FALSE(l.contains("seccomp"));
}

TEST(SpecJson, CarriesEveryFieldTheCallerSets) {
  Spec s = DefaultSpec();
  s.process.args = {"/pause", "x y"};
  s.process.env = {"A=1"};
  s.process.cwd = "/work";
  s.process.user = {1000, 2000, {3, 4}, 022};
  s.process.capabilities = Capabilities::Of({"CAP_CHOWN", "CAP_KILL"});
  s.process.oom_score_adj = 100;
  s.process.no_new_privileges = false;
  s.root = {"/abs/rootfs", true};
  s.hostname = "pod-a";
  s.mounts.push_back({"/pause", "bind", "/usr/libexec/pause", {"bind", "ro"}});
  s.annotations["k"] = "v";
  s.linux_spec.cgroups_path = "/kubepods/pod1/ctr";
  s.linux_spec.resources = {{"pids", {{"limit", 10}}}};
  s.linux_spec.sysctl = {{"net.ipv4.ip_forward", "1"}};
  s.linux_spec.seccomp = json{{"defaultAction", "SCMP_ACT_ERRNO"}};
  s.linux_spec.SetNamespace(kNetworkNamespace, "/run/netns/p1");
  s.linux_spec.RemoveNamespace(kUtsNamespace);
  json j = ToJson(s);

  const json& p = j.at("process");
  EXPECT_EQ(p.at("args"), (json{"/pause", "x y"}));
  EXPECT_EQ(p.at("env"), (json{"A=1"}));
  EXPECT_EQ(p.at("cwd"), "/work");
  EXPECT_EQ(p.at("user"),
            (json{{"uid", 1000}, {"gid", 2000}, {"additionalGids", {3, 4}}, {"umask", 022}}));
  EXPECT_EQ(p.at("capabilities").at("bounding"), (json{"CAP_CHOWN", "CAP_KILL"}));
  EXPECT_EQ(p.at("capabilities").at("effective"), (json{"CAP_CHOWN", "CAP_KILL"}));
  EXPECT_EQ(p.at("capabilities").at("permitted"), (json{"CAP_CHOWN", "CAP_KILL"}));
  EXPECT_TRUE(p.at("capabilities").at("ambient").empty());
  EXPECT_TRUE(p.at("capabilities").at("inheritable").empty());
  EXPECT_EQ(p.at("oomScoreAdj"), 100);
  EXPECT_EQ(p.at("noNewPrivileges"), false);
  EXPECT_EQ(j.at("root"), (json{{"path", "/abs/rootfs"}, {"readonly", true}}));
  EXPECT_EQ(j.at("hostname"), "pod-a");
  EXPECT_EQ(j.at("mounts").back(), (json{{"destination", "/pause"},
                                         {"type", "bind"},
                                         {"source", "/usr/libexec/pause"},
                                         {"options", {"bind", "ro"}}}));
  EXPECT_EQ(j.at("annotations"), (json{{"k", "v"}}));

  const json& l = j.at("linux");
  EXPECT_EQ(l.at("cgroupsPath"), "/kubepods/pod1/ctr");
  EXPECT_EQ(l.at("resources"), (json{{"pids", {{"limit", 10}}}}));
  EXPECT_EQ(l.at("sysctl"), (json{{"net.ipv4.ip_forward", "1"}}));
  EXPECT_EQ(l.at("seccomp"), (json{{"defaultAction", "SCMP_ACT_ERRNO"}}));
  EXPECT_EQ(l.at("namespaces"), (json::array({{{"type", "pid"}},
                                              {{"type", "network"}, {"path", "/run/netns/p1"}},
                                              {{"type", "ipc"}},
                                              {{"type", "mount"}}})));
}

TEST(SpecJson, SetNamespaceReplacesInsteadOfDuplicating) {
  Linux l;
  l.SetNamespace(kPidNamespace);
  l.SetNamespace(kPidNamespace, "/proc/42/ns/pid");
  ASSERT_EQ(l.namespaces.size(), 1u);
  EXPECT_EQ(l.namespaces[0].path, "/proc/42/ns/pid");
  ASSERT_NE(l.FindNamespace(kPidNamespace), nullptr);
  EXPECT_EQ(l.FindNamespace(kUserNamespace), nullptr);
  l.RemoveNamespace(kPidNamespace);
  EXPECT_THAT(l.namespaces, IsEmpty());
}

TEST(SpecJson, ExtraFieldsAreMergedOverTheGeneratedOnes) {
  Spec s = DefaultSpec();
  s.extra = {{"hooks", {{"prestart", json::array()}}}};
  s.process.extra = {{"apparmorProfile", "crius-default"}};
  s.linux_spec.extra = {{"devices", json::array({{{"path", "/dev/fuse"}}})},
                        {"maskedPaths", json::array()}};
  json j = ToJson(s);
  EXPECT_EQ(j.at("hooks"), (json{{"prestart", json::array()}}));
  EXPECT_EQ(j.at("process").at("apparmorProfile"), "crius-default");
  EXPECT_EQ(j.at("linux").at("devices")[0].at("path"), "/dev/fuse");
  EXPECT_TRUE(j.at("linux").at("maskedPaths").empty()) << "extra wins over generated keys";
}

TEST(WriteSpec, WritesReadableConfigJsonPrivately) {
  crius::testing::TempDir dir;
  Spec s = DefaultSpec();
  s.process.args = {"/bin/true"};
  ASSERT_TRUE(WriteSpec(dir.path(), s).ok());
  auto text = ReadFile(dir.Path("config.json"));
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(json::parse(*text), ToJson(s));
  struct stat st;
  ASSERT_EQ(::stat(dir.Path("config.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u) << "env may hold secrets";
}

TEST(WriteSpec, InvalidUtf8IsInvalidArgumentNotAnException) {
  crius::testing::TempDir dir;
  Spec s = DefaultSpec();
  s.process.args = {std::string("\xff\xfe")};
  absl::Status st = WriteSpec(dir.path(), s);
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
}

}  // namespace
}  // namespace crius::oci
