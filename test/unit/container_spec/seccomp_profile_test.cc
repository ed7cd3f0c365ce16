// Seccomp: profile choice from the request, the RuntimeDefault profile's
// shape, and Localhost profiles in OCI and Docker form.

#include "oci/seccomp_profile.h"

#include <sched.h>
#include <sys/utsname.h>

#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "oci/capabilities.h"
#include "test/unit/common/temp_dir.h"

namespace crius::oci {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

bool IsX86_64() {
  struct utsname u;
  return ::uname(&u) == 0 && std::string(u.machine) == "x86_64";
}

// Rules that name `syscall`.
std::vector<json> RulesFor(const json& profile, const std::string& syscall) {
  std::vector<json> out;
  for (const auto& rule : profile.at("syscalls")) {
    for (const auto& n : rule.at("names")) {
      if (n == syscall) out.push_back(rule);
    }
  }
  return out;
}

// Allowed whatever the arguments.
bool AllowedUnconditionally(const json& profile, const std::string& syscall) {
  for (const auto& rule : RulesFor(profile, syscall)) {
    if (rule.at("action") == "SCMP_ACT_ALLOW" && (!rule.contains("args") || rule["args"].empty())) {
      return true;
    }
  }
  return false;
}

TEST(SeccompNames, LibseccompKnowsRealSyscalls) {
  EXPECT_TRUE(SyscallKnown("read"));
  EXPECT_TRUE(SyscallKnown("keyctl"));
  EXPECT_TRUE(SyscallKnown("unshare"));
  EXPECT_FALSE(SyscallKnown("definitely_not_a_syscall"));
  EXPECT_FALSE(SyscallKnown(""));
}

TEST(RuntimeDefault, ShapeWithDefaultCapabilities) {
  json p = RuntimeDefaultSeccomp(DefaultCapabilities());
  EXPECT_EQ(p.at("defaultAction"), "SCMP_ACT_ERRNO");
  EXPECT_EQ(p.at("defaultErrnoRet"), 1) << "EPERM";
  if (IsX86_64()) {
    EXPECT_EQ(p.at("architectures"),
              json::array({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
    EXPECT_TRUE(AllowedUnconditionally(p, "arch_prctl"));
  }
  for (const char* ok : {"read", "write", "openat", "execve", "exit_group", "futex",
                         "clock_gettime", "socket", "chroot" /* CAP_SYS_CHROOT is a default */}) {
    EXPECT_TRUE(AllowedUnconditionally(p, ok)) << ok;
  }
  for (const char* blocked : {"keyctl", "add_key", "request_key", "unshare", "mount", "umount2",
                              "setns", "bpf", "reboot", "init_module", "io_uring_setup", "clone",
                              "clone3", "open_by_handle_at", "kexec_load", "swapon", "syslog"}) {
    EXPECT_FALSE(AllowedUnconditionally(p, blocked)) << blocked;
  }
  // clone is allowed only with no namespace flag set.
  auto clone = RulesFor(p, "clone");
  ASSERT_EQ(clone.size(), 1u);
  EXPECT_EQ(clone[0].at("action"), "SCMP_ACT_ALLOW");
  ASSERT_EQ(clone[0].at("args").size(), 1u);
  const json& arg = clone[0]["args"][0];
  EXPECT_EQ(arg.at("op"), "SCMP_CMP_MASKED_EQ");
  EXPECT_EQ(arg.at("value"),
            static_cast<uint64_t>(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                  CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP));
  EXPECT_EQ(arg.value("valueTwo", 1), 0);
  if (IsX86_64()) {
    EXPECT_EQ(arg.at("index"), 0);
  }
  // clone3 gets ENOSYS so libc falls back to the filterable clone.
  auto clone3 = RulesFor(p, "clone3");
  ASSERT_EQ(clone3.size(), 1u);
  EXPECT_EQ(clone3[0].at("action"), "SCMP_ACT_ERRNO");
  EXPECT_EQ(clone3[0].at("errnoRet"), 38);
  // personality only with a few harmless values.
  auto personality = RulesFor(p, "personality");
  EXPECT_EQ(personality.size(), 5u);
  for (const auto& rule : personality) {
    ASSERT_EQ(rule.at("args").size(), 1u);
    EXPECT_EQ(rule["args"][0].at("op"), "SCMP_CMP_EQ");
  }
  // Every name is one libseccomp knows (runc would reject the others).
  for (const auto& rule : p.at("syscalls")) {
    for (const auto& n : rule.at("names")) EXPECT_TRUE(SyscallKnown(n.get<std::string>())) << n;
  }
}

TEST(RuntimeDefault, CapabilitiesUnlockTheirSyscalls) {
  auto caps = DefaultCapabilities();
  caps.push_back("CAP_SYS_ADMIN");
  caps.push_back("CAP_SYS_PTRACE");
  caps.push_back("CAP_SYS_TIME");
  json p = RuntimeDefaultSeccomp(caps);
  for (const char* ok : {"unshare", "mount", "setns", "clone", "clone3", "sethostname",
                         "process_vm_readv", "settimeofday"}) {
    EXPECT_TRUE(AllowedUnconditionally(p, ok)) << ok;
  }
  for (const auto& rule : RulesFor(p, "clone")) EXPECT_FALSE(rule.contains("args"));
  EXPECT_TRUE(RulesFor(p, "clone3").size() == 1u &&
              RulesFor(p, "clone3")[0].at("action") == "SCMP_ACT_ALLOW");
  EXPECT_FALSE(AllowedUnconditionally(p, "keyctl")) << "no capability unlocks the keyring";

  json none = RuntimeDefaultSeccomp({});
  EXPECT_FALSE(AllowedUnconditionally(none, "chroot"));
}

runtime::v1::LinuxContainerSecurityContext Typed(runtime::v1::SecurityProfile::ProfileType type,
                                                 const std::string& ref = "") {
  runtime::v1::LinuxContainerSecurityContext sc;
  sc.mutable_seccomp()->set_profile_type(type);
  sc.mutable_seccomp()->set_localhost_ref(ref);
  return sc;
}

runtime::v1::LinuxContainerSecurityContext Legacy(const std::string& path) {
  runtime::v1::LinuxContainerSecurityContext sc;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  sc.set_seccomp_profile_path(path);
#pragma GCC diagnostic pop
  return sc;
}

TEST(ChooseSeccomp, TypedAndDeprecatedForms) {
  const std::string root = "/var/lib/kubelet/seccomp";
  struct Case {
    runtime::v1::LinuxContainerSecurityContext sc;
    SeccompMode mode;
    std::string path;
  };
  const Case cases[] = {
      {runtime::v1::LinuxContainerSecurityContext(), SeccompMode::kUnconfined, ""},
      {Typed(runtime::v1::SecurityProfile::RuntimeDefault), SeccompMode::kRuntimeDefault, ""},
      {Typed(runtime::v1::SecurityProfile::Unconfined), SeccompMode::kUnconfined, ""},
      {Typed(runtime::v1::SecurityProfile::Localhost, "/etc/p.json"), SeccompMode::kLocalhost,
       "/etc/p.json"},
      {Legacy(""), SeccompMode::kUnconfined, ""},
      {Legacy("unconfined"), SeccompMode::kUnconfined, ""},
      {Legacy("runtime/default"), SeccompMode::kRuntimeDefault, ""},
      {Legacy("docker/default"), SeccompMode::kRuntimeDefault, ""},
      {Legacy("localhost//abs/p.json"), SeccompMode::kLocalhost, "/abs/p.json"},
      {Legacy("localhost/profiles/p.json"), SeccompMode::kLocalhost,
       "/var/lib/kubelet/seccomp/profiles/p.json"},
  };
  for (const auto& c : cases) {
    auto choice = ChooseSeccomp(c.sc, root);
    ASSERT_TRUE(choice.ok()) << c.sc.ShortDebugString() << choice.status();
    EXPECT_EQ(choice->mode, c.mode) << c.sc.ShortDebugString();
    EXPECT_EQ(choice->profile_path, c.path) << c.sc.ShortDebugString();
  }
  for (const auto& bad : {Typed(runtime::v1::SecurityProfile::Localhost, "relative.json"),
                          Typed(runtime::v1::SecurityProfile::Localhost, ""),
                          Typed(runtime::v1::SecurityProfile::Localhost, "/a/../etc/shadow"),
                          Legacy("localhost/../../etc/shadow"), Legacy("bogus")}) {
    EXPECT_EQ(ChooseSeccomp(bad, root).status().code(), absl::StatusCode::kInvalidArgument)
        << bad.ShortDebugString();
  }
}

TEST(SeccompProfile, DockerFormatWithConditionsAndUnknownNames) {
  const char* profile = R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "archMap": [
      {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
      {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
    ],
    "syscalls": [
      {"names": ["read", "write", "not_a_real_syscall"], "action": "SCMP_ACT_ALLOW", "args": []},
      {"names": ["only_unknown_here"], "action": "SCMP_ACT_ALLOW"},
      {"name": "getpid", "action": "SCMP_ACT_ALLOW"},
      {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["chroot"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
      {"names": ["vhangup"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
      {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}], "comment": "linux32"},
      {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
    ]
  })";
  auto p = ParseSeccompProfile(profile, DefaultCapabilities());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->at("defaultAction"), "SCMP_ACT_ERRNO");
  EXPECT_EQ(p->at("defaultErrnoRet"), 1);
  if (IsX86_64()) {
    EXPECT_EQ(p->at("architectures"),
              json::array({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  }
  EXPECT_FALSE(p->dump().find("not_a_real_syscall") != std::string::npos);
  EXPECT_FALSE(p->dump().find("only_unknown_here") != std::string::npos);
  EXPECT_FALSE(p->dump().find("includes") != std::string::npos);
  EXPECT_FALSE(p->dump().find("comment") != std::string::npos);
  EXPECT_TRUE(AllowedUnconditionally(*p, "read"));
  EXPECT_TRUE(AllowedUnconditionally(*p, "getpid"));
  EXPECT_FALSE(AllowedUnconditionally(*p, "mount"));
  EXPECT_TRUE(AllowedUnconditionally(*p, "chroot"));
  EXPECT_TRUE(AllowedUnconditionally(*p, "ptrace"));
  EXPECT_FALSE(AllowedUnconditionally(*p, "vhangup"));
  auto kill = RulesFor(*p, "kill");
  ASSERT_EQ(kill.size(), 1u);
  EXPECT_EQ(kill[0].at("errnoRet"), 13);
  auto personality = RulesFor(*p, "personality");
  ASSERT_EQ(personality.size(), 1u);
  EXPECT_EQ(personality[0].at("args")[0].at("value"), 8);

  auto admin = DefaultCapabilities();
  admin.push_back("CAP_SYS_ADMIN");
  p = ParseSeccompProfile(profile, admin);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(AllowedUnconditionally(*p, "mount"));
  EXPECT_FALSE(AllowedUnconditionally(*p, "chroot"));
}

TEST(SeccompProfile, OciFormatPassesThrough) {
  const char* profile = R"({
    "defaultAction": "SCMP_ACT_KILL_PROCESS",
    "architectures": ["SCMP_ARCH_X86_64"],
    "flags": ["SECCOMP_FILTER_FLAG_LOG"],
    "syscalls": [{"names": ["read", "bogus_call"], "action": "SCMP_ACT_ALLOW"},
                 {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                  "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]}]
  })";
  auto p = ParseSeccompProfile(profile, {});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->at("defaultAction"), "SCMP_ACT_KILL_PROCESS");
  EXPECT_EQ(p->at("architectures"), json::array({"SCMP_ARCH_X86_64"}));
  EXPECT_EQ(p->at("flags"), json::array({"SECCOMP_FILTER_FLAG_LOG"}));
  EXPECT_EQ(p->at("syscalls")[0].at("names"), json::array({"read"}));
  EXPECT_EQ(p->at("syscalls")[1].at("args")[0].at("op"), "SCMP_CMP_NE");
}

TEST(SeccompProfile, BadProfilesAreInvalidArgument) {
  for (const char* bad : {
           "not json",
           "[]",
           R"({"syscalls": []})",
           R"({"defaultAction": "SCMP_ACT_MAYBE"})",
           R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"]}]})",
           R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
               "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "op": "SCMP_CMP_SORTA"}]}]})",
           R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": {"names": ["read"]}})",
       }) {
    EXPECT_EQ(ParseSeccompProfile(bad, {}).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(SeccompProfile, LoadFromDisk) {
  testing::TempDir dir;
  EXPECT_EQ(LoadSeccompProfile(dir.Path("missing.json"), {}).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(WriteFileAtomic(dir.Path("p.json"),
                              R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                                 {"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"}]})")
                  .ok());
  auto p = LoadSeccompProfile(dir.Path("p.json"), {});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->at("defaultAction"), "SCMP_ACT_ALLOW");
  ASSERT_TRUE(WriteFileAtomic(dir.Path("bad.json"), "{").ok());
  auto bad = LoadSeccompProfile(dir.Path("bad.json"), {});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("bad.json"));
}

}  // namespace
}  // namespace crius::oci
