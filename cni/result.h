#pragma once
// CNI results: what an ADD prints on stdout, chained into the next plugin
// as prevResult, cached for DEL, and read for the pod's IPs.
//
// Shapes handled (by the result's own "cniVersion"):
//   0.3.0, 0.3.1, 0.4.0  interfaces, ips (each with "version": "4"|"6",
//                        checked against the address when present), routes,
//                        dns
//   1.0.0 and later 1.x  the same without ips[].version (the family is
//                        read from the address); unknown extra fields of
//                        later versions are kept in `raw` untouched
// 0.1.0/0.2.0 results ("ip4"/"ip6") are refused: configurations of those
// versions are refused at load (see network_config.h), so such a result can
// only come from a plugin that ignored the requested version.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace crius::cni {

struct CniInterface {
  std::string name;
  std::string mac;
  std::string sandbox;  // netns path when the interface is inside the pod
};

struct CniIpConfig {
  std::string address;  // CIDR, "10.88.0.5/16"
  std::string gateway;  // may be empty
  std::optional<int> interface;  // index into CniResult::interfaces
  bool ipv6 = false;

  // The address without its prefix length ("10.88.0.5").
  std::string Ip() const;
};

struct CniRoute {
  std::string dst;  // CIDR
  std::string gw;   // may be empty
};

struct CniDns {
  std::vector<std::string> nameservers;
  std::string domain;
  std::vector<std::string> search;
  std::vector<std::string> options;
};

struct CniResult {
  std::string cni_version;
  std::vector<CniInterface> interfaces;
  std::vector<CniIpConfig> ips;
  std::vector<CniRoute> routes;
  CniDns dns;
  // The result exactly as the plugin printed it: what is chained into the
  // next plugin and cached, so no field a later spec adds is lost.
  nlohmann::json raw;
};

// Parses a result object. `expected_version` is used when the result does
// not name its own version. InvalidArgument for anything malformed: bad
// JSON types, addresses that are not CIDRs, interface indexes out of range.
absl::StatusOr<CniResult> ParseCniResult(const nlohmann::json& doc,
                                         std::string_view expected_version);

// Same, from a plugin's stdout.
absl::StatusOr<CniResult> ParseCniResultText(std::string_view bytes,
                                             std::string_view expected_version);

// The pod's IPs as PodSandboxStatus reports them: addresses without prefix,
// the first IPv4 first (kubelet takes the first as the primary pod IP),
// then the others in result order, without duplicates. IPs assigned to an
// interface outside the pod (one without "sandbox", such as a bridge's
// gateway) are left out; IPs naming no interface are kept.
std::vector<std::string> PodIps(const CniResult& result);

}  // namespace crius::cni
