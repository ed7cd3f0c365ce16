#include "cni/result.h"

#include "gtest/gtest.h"

namespace crius::cni {
namespace {

// What bridge + host-local print for 0.3.x/0.4.0: ips carry "version".
std::string VersionedResult(const std::string& version) {
  return R"({"cniVersion":")" + version + R"(",
    "interfaces":[{"name":"cni0","mac":"aa:bb:cc:dd:ee:01"},
                  {"name":"veth1","mac":"aa:bb:cc:dd:ee:02"},
                  {"name":"eth0","mac":"aa:bb:cc:dd:ee:03","sandbox":"/run/netns/p"}],
    "ips":[{"version":"4","address":"10.88.0.5/16","gateway":"10.88.0.1","interface":2},
           {"version":"6","address":"fd00::5/64","gateway":"fd00::1","interface":2}],
    "routes":[{"dst":"0.0.0.0/0","gw":"10.88.0.1"},{"dst":"::/0"}],
    "dns":{"nameservers":["10.96.0.10"],"domain":"cluster.local","search":["svc"],
           "options":["ndots:5"]}})";
}

void ExpectFullResult(const CniResult& r) {
  ASSERT_EQ(r.interfaces.size(), 3u);
  EXPECT_EQ(r.interfaces[2].name, "eth0");
  EXPECT_EQ(r.interfaces[2].mac, "aa:bb:cc:dd:ee:03");
  EXPECT_EQ(r.interfaces[2].sandbox, "/run/netns/p");
  EXPECT_EQ(r.interfaces[0].sandbox, "");
  ASSERT_EQ(r.ips.size(), 2u);
  EXPECT_EQ(r.ips[0].address, "10.88.0.5/16");
  EXPECT_EQ(r.ips[0].Ip(), "10.88.0.5");
  EXPECT_EQ(r.ips[0].gateway, "10.88.0.1");
  EXPECT_EQ(r.ips[0].interface, 2);
  EXPECT_FALSE(r.ips[0].ipv6);
  EXPECT_TRUE(r.ips[1].ipv6);
  ASSERT_EQ(r.routes.size(), 2u);
  EXPECT_EQ(r.routes[0].dst, "0.0.0.0/0");
  EXPECT_EQ(r.routes[0].gw, "10.88.0.1");
  EXPECT_EQ(r.routes[1].gw, "");
  EXPECT_EQ(r.dns.nameservers, std::vector<std::string>{"10.96.0.10"});
  EXPECT_EQ(r.dns.domain, "cluster.local");
  EXPECT_EQ(r.dns.search, std::vector<std::string>{"svc"});
  EXPECT_EQ(r.dns.options, std::vector<std::string>{"ndots:5"});
}

TEST(ParseCniResult, EachPre10VersionWithVersionedIps) {
  for (const char* v : {"0.3.0", "0.3.1", "0.4.0"}) {
    SCOPED_TRACE(v);
    auto r = ParseCniResultText(VersionedResult(v), "1.0.0");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->cni_version, v);
    ExpectFullResult(*r);
  }
}

TEST(ParseCniResult, Version10ReadsTheFamilyFromTheAddress) {
  auto r = ParseCniResultText(R"({"cniVersion":"1.0.0",
    "interfaces":[{"name":"cni0","mac":"aa:bb:cc:dd:ee:01"},
                  {"name":"veth1","mac":"aa:bb:cc:dd:ee:02"},
                  {"name":"eth0","mac":"aa:bb:cc:dd:ee:03","sandbox":"/run/netns/p"}],
    "ips":[{"address":"10.88.0.5/16","gateway":"10.88.0.1","interface":2},
           {"address":"fd00::5/64","gateway":"fd00::1","interface":2}],
    "routes":[{"dst":"0.0.0.0/0","gw":"10.88.0.1"},{"dst":"::/0"}],
    "dns":{"nameservers":["10.96.0.10"],"domain":"cluster.local","search":["svc"],
           "options":["ndots:5"]}})",
                              "1.0.0");
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectFullResult(*r);
}

TEST(ParseCniResult, Pre10IpsWithoutVersionTakeTheFamilyFromTheAddress) {
  // What loopback from containernetworking-plugins 1.1 prints for 0.3.1.
  auto r = ParseCniResultText(R"({"cniVersion":"0.3.1",
    "interfaces":[{"name":"lo","mac":"00:00:00:00:00:00","sandbox":"/run/netns/x"}],
    "ips":[{"interface":0,"address":"127.0.0.1/8"},{"interface":0,"address":"::1/128"}],
    "dns":{}})",
                              "0.3.1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->ips[0].ipv6);
  EXPECT_TRUE(r->ips[1].ipv6);
}

TEST(ParseCniResult, KeepsUnknownFieldsOfLaterVersionsInRaw) {
  auto r = ParseCniResultText(R"({"cniVersion":"1.1.0",
    "interfaces":[{"name":"eth0","sandbox":"/n","mtu":1400,"socketPath":"/s"}],
    "ips":[{"address":"10.1.2.3/24","interface":0}],
    "routes":[{"dst":"0.0.0.0/0","mtu":1400,"table":10}]})",
                              "1.1.0");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->raw["interfaces"][0]["mtu"], 1400);
  EXPECT_EQ(r->raw["routes"][0]["table"], 10);
}

TEST(ParseCniResult, MissingVersionTakesTheExpectedOneAndRecordsIt) {
  auto r = ParseCniResultText(R"({"ips":[{"address":"10.1.2.3/24"}]})", "1.0.0");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->cni_version, "1.0.0");
  EXPECT_EQ(r->raw["cniVersion"], "1.0.0");
  EXPECT_EQ(r->ips[0].interface, std::nullopt);
}

TEST(ParseCniResult, EmptyResultIsValid) {
  auto r = ParseCniResultText(R"({"cniVersion":"1.0.0"})", "1.0.0");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->ips.empty());
  EXPECT_TRUE(PodIps(*r).empty());
}

TEST(ParseCniResult, RefusesLegacyAndMalformedResults) {
  const char* bad[] = {
      R"({"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.2/24"}})",
      R"([1,2])",
      R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2"}]})",
      R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/33"}]})",
      R"({"cniVersion":"1.0.0","ips":[{"address":"nonsense/24"}]})",
      R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24","interface":0}]})",
      R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24","gateway":"fd00::1"}]})",
      R"({"cniVersion":"0.4.0","ips":[{"version":"5","address":"10.0.0.2/24"}]})",
      R"({"cniVersion":"0.4.0","ips":[{"version":"6","address":"10.0.0.2/24"}]})",
      R"({"cniVersion":"1.0.0","interfaces":{"name":"eth0"}})",
      R"({"cniVersion":"1.0.0","interfaces":[{"mac":"x"}]})",
      R"({"cniVersion":"1.0.0","routes":[{"dst":"default"}]})",
      R"({"cniVersion":"1.0.0","dns":{"nameservers":"10.0.0.1"}})",
      R"({"cniVersion":"one"})",
  };
  for (const char* text : bad) {
    auto r = ParseCniResultText(text, "1.0.0");
    EXPECT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(PodIps, FirstIpv4IsPrimaryThenTheRestInOrder) {
  auto r = ParseCniResultText(R"({"cniVersion":"1.0.0",
    "interfaces":[{"name":"br"},{"name":"eth0","sandbox":"/n"}],
    "ips":[{"address":"fd00::5/64","interface":1},
           {"address":"10.0.0.9/24","interface":0},
           {"address":"10.1.0.5/24","interface":1},
           {"address":"fd00::6/64"},
           {"address":"10.1.0.5/24","interface":1}]})",
                              "1.0.0");
  ASSERT_TRUE(r.ok()) << r.status();
  // 10.0.0.9 sits on the host-side bridge: not a pod IP. Duplicates go.
  EXPECT_EQ(PodIps(*r), (std::vector<std::string>{"10.1.0.5", "fd00::5", "fd00::6"}));
}

TEST(PodIps, Ipv6OnlyKeepsOrder) {
  auto r = ParseCniResultText(
      R"({"cniVersion":"1.0.0","ips":[{"address":"fd00::7/64"},{"address":"fd00::8/64"}]})",
      "1.0.0");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(PodIps(*r), (std::vector<std::string>{"fd00::7", "fd00::8"}));
}

}  // namespace
}  // namespace crius::cni
