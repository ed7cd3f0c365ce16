#include "sandbox/pod_files.h"

#include <sys/stat.h>

#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/unit/common/temp_dir.h"

namespace crius::sandbox {
namespace {

using ::crius::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(ValidateHostname, AcceptsDnsNamesAndRefusesTheRest) {
  EXPECT_TRUE(ValidateHostname("web-0").ok());
  EXPECT_TRUE(ValidateHostname("a.b_c.D9").ok());
  EXPECT_TRUE(ValidateHostname(std::string(64, 'a')).ok());
  for (std::string bad :
       {std::string(), std::string(65, 'a'), std::string("a b"), std::string("a\nb"),
        std::string("-a"), std::string("a."), std::string("a/b"), std::string("a#b")}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ValidateHostname(bad))) << "\"" << bad << "\"";
  }
}

TEST(HostsFileContent, LocalhostPodIpsAndAliases) {
  auto hosts = HostsFileContent("web-0", {"10.88.0.5", "fd00::5"},
                                {{"10.0.0.1", {"foo.local", "bar.local"}}, {"10.0.0.2", {"baz"}}});
  ASSERT_TRUE(hosts.ok()) << hosts.status();
  EXPECT_THAT(*hosts, HasSubstr("127.0.0.1\tlocalhost\n"));
  EXPECT_THAT(*hosts, HasSubstr("::1\tlocalhost ip6-localhost ip6-loopback\n"));
  EXPECT_THAT(*hosts, HasSubstr("10.88.0.5\tweb-0\n"));
  EXPECT_THAT(*hosts, HasSubstr("fd00::5\tweb-0\n"));
  EXPECT_THAT(*hosts, HasSubstr("10.0.0.1\tfoo.local bar.local\n"));
  EXPECT_THAT(*hosts, HasSubstr("10.0.0.2\tbaz\n"));
  // Aliases come after the pod's own lines, like kubelet's hosts file.
  EXPECT_LT(hosts->find("web-0"), hosts->find("foo.local"));
}

TEST(HostsFileContent, BeforeCniThereIsNoPodIpLine) {
  auto hosts = HostsFileContent("web-0", {}, {});
  ASSERT_TRUE(hosts.ok()) << hosts.status();
  EXPECT_THAT(*hosts, Not(HasSubstr("web-0")));
  EXPECT_THAT(*hosts, HasSubstr("127.0.0.1\tlocalhost\n"));
}

TEST(HostsFileContent, RefusesBadIpsAndNames) {
  EXPECT_TRUE(absl::IsInvalidArgument(HostsFileContent("h", {"10.0.0.300"}, {}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(HostsFileContent("h", {}, {{"nope", {"a"}}}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      HostsFileContent("h", {}, {{"10.0.0.1", {"a\n1.2.3.4 evil"}}}).status()));
}

TEST(ResolvConfContent, KubeletFormatFromDnsConfig) {
  DnsConfig dns{{"10.96.0.10", "10.96.0.11"},
                {"default.svc.cluster.local", "svc.cluster.local"},
                {"ndots:5", "timeout:2"}};
  auto resolv = ResolvConfContent(dns);
  ASSERT_TRUE(resolv.ok()) << resolv.status();
  EXPECT_EQ(*resolv,
            "search default.svc.cluster.local svc.cluster.local\n"
            "nameserver 10.96.0.10\n"
            "nameserver 10.96.0.11\n"
            "options ndots:5 timeout:2\n");
}

TEST(ResolvConfContent, OnlyServers) {
  auto resolv = ResolvConfContent(DnsConfig{{"1.1.1.1"}, {}, {}});
  ASSERT_TRUE(resolv.ok()) << resolv.status();
  EXPECT_EQ(*resolv, "nameserver 1.1.1.1\n");
}

TEST(ResolvConfContent, RefusesInjectedLines) {
  auto r = ResolvConfContent(DnsConfig{{"1.1.1.1\nnameserver 6.6.6.6"}, {}, {}});
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  r = ResolvConfContent(DnsConfig{{}, {"a b"}, {}});
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
}

TEST(ResolvConfContent, NoOrEmptyDnsConfigCopiesTheNodesFile) {
  TempDir dir;
  std::string host = dir.Path("host-resolv.conf");
  ASSERT_TRUE(WriteFileAtomic(host, "nameserver 192.0.2.53\nsearch example.org\n").ok());
  EXPECT_EQ(ResolvConfContent(std::nullopt, host).value(),
            "nameserver 192.0.2.53\nsearch example.org\n");
  EXPECT_EQ(ResolvConfContent(DnsConfig{}, host).value(),
            "nameserver 192.0.2.53\nsearch example.org\n");
  // A node without one gives an empty file rather than failing the pod.
  EXPECT_EQ(ResolvConfContent(std::nullopt, dir.Path("missing")).value(), "");
}

TEST(WritePodFiles, WritesAllThreeWithMode0644) {
  TempDir dir;
  std::string host = dir.Path("host-resolv.conf");
  ASSERT_TRUE(WriteFileAtomic(host, "nameserver 192.0.2.1\n", 0600).ok());
  PodFilesSpec spec;
  spec.pod_dir = dir.path();
  spec.hostname = "web-0";
  spec.host_aliases = {{"10.0.0.1", {"foo"}}};
  spec.host_resolv_conf = host;
  auto paths = WritePodFiles(spec);
  ASSERT_TRUE(paths.ok()) << paths.status();
  EXPECT_EQ(paths->hostname, dir.Path("hostname"));
  EXPECT_EQ(paths->hosts, dir.Path("hosts"));
  EXPECT_EQ(paths->resolv_conf, dir.Path("resolv.conf"));
  EXPECT_EQ(ReadFile(paths->hostname).value(), "web-0\n");
  EXPECT_THAT(ReadFile(paths->hosts).value(), HasSubstr("10.0.0.1\tfoo\n"));
  EXPECT_EQ(ReadFile(paths->resolv_conf).value(), "nameserver 192.0.2.1\n");
  for (const auto& p : {paths->hostname, paths->hosts, paths->resolv_conf}) {
    EXPECT_EQ(ModeOf(p), 0644u) << p;
  }

  // After CNI: the hosts file is rewritten with the pod's IP.
  ASSERT_TRUE(WriteHostsFile(dir.path(), "web-0", {"10.88.0.7"}, spec.host_aliases).ok());
  std::string hosts = ReadFile(paths->hosts).value();
  EXPECT_THAT(hosts, HasSubstr("10.88.0.7\tweb-0\n"));
  EXPECT_THAT(hosts, HasSubstr("10.0.0.1\tfoo\n"));
  EXPECT_EQ(ModeOf(paths->hosts), 0644u);
}

TEST(WritePodFiles, InvalidInputWritesNothing) {
  TempDir dir;
  PodFilesSpec spec;
  spec.pod_dir = dir.path();
  spec.hostname = "web-0";
  spec.dns = DnsConfig{{"1.1.1.1 x"}, {}, {}};
  EXPECT_TRUE(absl::IsInvalidArgument(WritePodFiles(spec).status()));
  EXPECT_FALSE(ReadFile(dir.Path("hostname")).ok());
  EXPECT_FALSE(ReadFile(dir.Path("hosts")).ok());
}

TEST(WritePodFiles, EmptyHostnameUsesTheNodesName) {
  TempDir dir;
  PodFilesSpec spec;
  spec.pod_dir = dir.path();
  spec.dns = DnsConfig{{"1.1.1.1"}, {}, {}};
  ASSERT_TRUE(WritePodFiles(spec).ok());
  char node[256] = {};
  ASSERT_EQ(::gethostname(node, sizeof(node) - 1), 0);
  EXPECT_EQ(ReadFile(dir.Path("hostname")).value(), std::string(node) + "\n");
}

}  // namespace
}  // namespace crius::sandbox
