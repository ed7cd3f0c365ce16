#include "sandbox/sysctl.h"

#include "gtest/gtest.h"

namespace crius::sandbox {
namespace {

TEST(SysctlRelativePath, DottedNameUsesSlashes) {
  EXPECT_EQ(SysctlRelativePath("net.ipv4.ip_forward").value(), "net/ipv4/ip_forward");
  EXPECT_EQ(SysctlRelativePath("kernel.shmmax").value(), "kernel/shmmax");
}

TEST(SysctlRelativePath, BothSpellingsOfADottedInterfaceAgree) {
  // kubelet's form: '/' stands for a literal '.' in the interface name.
  EXPECT_EQ(SysctlRelativePath("net.ipv4.conf.eth0/100.rp_filter").value(),
            "net/ipv4/conf/eth0.100/rp_filter");
  EXPECT_EQ(SysctlRelativePath("net/ipv4/conf/eth0.100/rp_filter").value(),
            "net/ipv4/conf/eth0.100/rp_filter");
}

TEST(SysctlRelativePath, RefusesNamesThatCouldLeaveProcSys) {
  for (const char* name : {"", "net", "net..ipv4", "net/../../etc/passwd", "net.ipv4.a b",
                           "net.ipv4.x\n", ".net.ipv4", "net.ipv4."}) {
    auto p = SysctlRelativePath(name);
    EXPECT_TRUE(absl::IsInvalidArgument(p.status())) << "\"" << name << "\" -> " << p.status();
  }
}

TEST(SysctlNamespaceOf, ClassifiesLikeKubernetes) {
  EXPECT_EQ(SysctlNamespaceOf("net.core.somaxconn").value(), SysctlNamespace::kNet);
  EXPECT_EQ(SysctlNamespaceOf("net.ipv4.ip_unprivileged_port_start").value(),
            SysctlNamespace::kNet);
  EXPECT_EQ(SysctlNamespaceOf("kernel.shmmax").value(), SysctlNamespace::kIpc);
  EXPECT_EQ(SysctlNamespaceOf("kernel.shm_rmid_forced").value(), SysctlNamespace::kIpc);
  EXPECT_EQ(SysctlNamespaceOf("kernel.msgmax").value(), SysctlNamespace::kIpc);
  EXPECT_EQ(SysctlNamespaceOf("kernel.sem").value(), SysctlNamespace::kIpc);
  EXPECT_EQ(SysctlNamespaceOf("fs.mqueue.msg_max").value(), SysctlNamespace::kIpc);
  EXPECT_EQ(SysctlNamespaceOf("kernel.domainname").value(), SysctlNamespace::kUts);
}

TEST(SysctlNamespaceOf, RefusesNodeWideSysctls) {
  for (const char* name : {"vm.swappiness", "kernel.pid_max", "fs.file-max", "kernel.semx",
                           "kernel.hostname", "user.max_user_namespaces"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(SysctlNamespaceOf(name).status())) << name;
  }
  EXPECT_NE(SysctlNamespaceOf("vm.swappiness").status().message().find("not namespaced"),
            std::string::npos);
  EXPECT_NE(SysctlNamespaceOf("kernel.hostname").status().message().find("hostname field"),
            std::string::npos);
}

TEST(ValidateSysctls, AcceptsSysctlsOfThePodsOwnNamespaces) {
  OwnNamespaces all{true, true, true};
  EXPECT_TRUE(ValidateSysctls({{"net.ipv4.ip_unprivileged_port_start", "0"},
                               {"kernel.shmmax", "1000000"},
                               {"kernel.sem", "250 32000 32 128"},
                               {"kernel.domainname", "example"}},
                              all)
                  .ok());
  EXPECT_TRUE(ValidateSysctls({}, OwnNamespaces{}).ok());
}

TEST(ValidateSysctls, RefusesSysctlsOfSharedNamespaces) {
  absl::Status net = ValidateSysctls({{"net.core.somaxconn", "1024"}}, {false, true, true});
  EXPECT_TRUE(absl::IsInvalidArgument(net)) << net;
  EXPECT_NE(net.message().find("network namespace"), std::string::npos) << net;
  absl::Status ipc = ValidateSysctls({{"kernel.msgmax", "8192"}}, {true, false, true});
  EXPECT_TRUE(absl::IsInvalidArgument(ipc)) << ipc;
  absl::Status uts = ValidateSysctls({{"kernel.domainname", "x"}}, {true, true, false});
  EXPECT_TRUE(absl::IsInvalidArgument(uts)) << uts;
}

TEST(ValidateSysctls, RefusesNodeWideSysctlsAndBadValues) {
  OwnNamespaces all{true, true, true};
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateSysctls({{"vm.swappiness", "10"}}, all)));
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateSysctls({{"net.core.somaxconn", "1\n2"}}, all)));
  EXPECT_TRUE(absl::IsInvalidArgument(
      ValidateSysctls({{"net.core.somaxconn", std::string("1\0", 2)}}, all)));
  EXPECT_TRUE(absl::IsInvalidArgument(
      ValidateSysctls({{"net.core.somaxconn", std::string(5000, '1')}}, all)));
}

}  // namespace
}  // namespace crius::sandbox
