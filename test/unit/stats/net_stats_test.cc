#include "stats/net_stats.h"

#include "gtest/gtest.h"

namespace crius::stats {
namespace {

// Recorded from this machine's /proc/net/dev, eth0 row extended with
// nonzero error and drop columns to check each column lands in its field.
constexpr char kNetDev[] =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo:    3267      29    0    0    0     0          0         0     3267      29    0    "
    "0    0     0       0          0\n"
    "  eth0: 68050072    2378    3    4    5     6          7         8   141579    1970    9   "
    "10   11    12      13         14\n";

TEST(ParseNetDev, ColumnsAndLoopbackLeftOut) {
  auto ifs = ParseNetDev(kNetDev);
  ASSERT_TRUE(ifs.ok()) << ifs.status();
  ASSERT_EQ(ifs->size(), 1u);
  const InterfaceStats& e = (*ifs)[0];
  EXPECT_EQ(e.name, "eth0");
  EXPECT_EQ(e.rx_bytes, 68050072u);
  EXPECT_EQ(e.rx_packets, 2378u);
  EXPECT_EQ(e.rx_errors, 3u);
  EXPECT_EQ(e.rx_dropped, 4u);
  EXPECT_EQ(e.tx_bytes, 141579u);
  EXPECT_EQ(e.tx_packets, 1970u);
  EXPECT_EQ(e.tx_errors, 9u);
  EXPECT_EQ(e.tx_dropped, 10u);
}

TEST(ParseNetDev, MalformedLineIsAnError) {
  EXPECT_FALSE(ParseNetDev("h1\nh2\n  eth0 1 2 3\n").ok());
  EXPECT_FALSE(ParseNetDev("h1\nh2\n  eth0: 1 2 x\n").ok());
}

TEST(NetStatsReader, HostNetworkPathGivesEmptyAndMissingNetnsAnError) {
  auto reader = NetStatsReader::Create();
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto out = (*reader)->Read({"", "/run/netns/crius-stats-test-does-not-exist"});
  ASSERT_EQ(out.size(), 2u);
  ASSERT_TRUE(out[0].ok());
  EXPECT_TRUE(out[0]->interfaces.empty());
  EXPECT_EQ(out[1].status().code(), absl::StatusCode::kNotFound);
}

TEST(NetStatsReader, ReadsOwnNamespaceThroughItsProcPath) {
  // The calling thread's own netns, entered by path, must give the same
  // interfaces /proc/self/net/dev lists.
  auto reader = NetStatsReader::Create();
  ASSERT_TRUE(reader.ok());
  auto out = (*reader)->Read({"/proc/self/ns/net"});
  ASSERT_TRUE(out[0].ok()) << out[0].status();
  EXPECT_GT(out[0]->timestamp_ns, 0);
}

}  // namespace
}  // namespace crius::stats
