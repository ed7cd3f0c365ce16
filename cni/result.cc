#include "cni/result.h"

#include <arpa/inet.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cni/network_config.h"
#include "common/status.h"
#include "common/strings.h"

namespace crius::cni {
namespace {

absl::Status Malformed(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed CNI result: ", AbslView(what)));
}

// Reads an optional string member; absent or null is "".
absl::Status GetString(const nlohmann::json& obj, const char* key, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_string()) return Malformed(absl::StrCat("\"", key, "\" is not a string"));
  *out = it->get<std::string>();
  return absl::OkStatus();
}

absl::Status GetStrings(const nlohmann::json& obj, const char* key, std::vector<std::string>* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_array()) return Malformed(absl::StrCat("\"", key, "\" is not a list"));
  for (const auto& v : *it) {
    if (!v.is_string()) return Malformed(absl::StrCat("\"", key, "\" holds a non-string"));
    out->push_back(v.get<std::string>());
  }
  return absl::OkStatus();
}

// An optional array member; absent or null is an empty array.
absl::StatusOr<nlohmann::json> GetArray(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nlohmann::json::array();
  if (!it->is_array()) return Malformed(absl::StrCat("\"", key, "\" is not a list"));
  return *it;
}

// Parses an IP address; `family` receives AF_INET or AF_INET6.
bool ParseIp(const std::string& ip, int* family) {
  unsigned char buf[16];
  if (::inet_pton(AF_INET, ip.c_str(), buf) == 1) {
    *family = AF_INET;
    return true;
  }
  if (::inet_pton(AF_INET6, ip.c_str(), buf) == 1) {
    *family = AF_INET6;
    return true;
  }
  return false;
}

bool ParseCidr(const std::string& cidr, int* family) {
  size_t slash = cidr.find('/');
  if (slash == std::string::npos) return false;
  int prefix = -1;
  if (!absl::SimpleAtoi(AbslView(std::string_view(cidr).substr(slash + 1)), &prefix)) return false;
  if (!ParseIp(cidr.substr(0, slash), family)) return false;
  return prefix >= 0 && prefix <= (*family == AF_INET ? 32 : 128);
}

absl::Status ParseInterfaces(const nlohmann::json& doc, CniResult* r) {
  ASSIGN_OR_RETURN(nlohmann::json list, GetArray(doc, "interfaces"));
  for (const auto& item : list) {
    if (!item.is_object()) return Malformed("an interface is not an object");
    CniInterface i;
    RETURN_IF_ERROR(GetString(item, "name", &i.name));
    RETURN_IF_ERROR(GetString(item, "mac", &i.mac));
    RETURN_IF_ERROR(GetString(item, "sandbox", &i.sandbox));
    if (i.name.empty()) return Malformed("an interface has no name");
    r->interfaces.push_back(std::move(i));
  }
  return absl::OkStatus();
}

absl::Status ParseIpConfig(const nlohmann::json& item, bool versioned, CniResult* r) {
  if (!item.is_object()) return Malformed("an ips entry is not an object");
  CniIpConfig ip;
  RETURN_IF_ERROR(GetString(item, "address", &ip.address));
  RETURN_IF_ERROR(GetString(item, "gateway", &ip.gateway));
  int family = 0;
  if (!ParseCidr(ip.address, &family)) {
    return Malformed(absl::StrCat("address \"", ip.address, "\" is not a CIDR"));
  }
  ip.ipv6 = family == AF_INET6;
  int gw_family = 0;
  if (!ip.gateway.empty() && (!ParseIp(ip.gateway, &gw_family) || gw_family != family)) {
    return Malformed(absl::StrCat("gateway \"", ip.gateway, "\" does not fit ", ip.address));
  }
  if (versioned) {
    // Before 1.0 each entry names its family, and when it does it must agree
    // with the address. Absent is accepted: plugins built on the 1.x Go
    // library (loopback in containernetworking-plugins 1.1) print 0.3.1
    // results without it.
    std::string v;
    RETURN_IF_ERROR(GetString(item, "version", &v));
    if (!v.empty() && v != "4" && v != "6") {
      return Malformed(absl::StrCat("ips version \"", v, "\""));
    }
    if (!v.empty() && (v == "6") != ip.ipv6) {
      return Malformed(absl::StrCat("address ", ip.address, " is not IPv", v));
    }
  }
  auto idx = item.find("interface");
  if (idx != item.end() && !idx->is_null()) {
    if (!idx->is_number_integer()) return Malformed("ips interface is not an integer");
    int64_t i = idx->get<int64_t>();
    if (i < 0 || i >= static_cast<int64_t>(r->interfaces.size())) {
      return Malformed(absl::StrCat("ips interface index ", i, " is out of range"));
    }
    ip.interface = static_cast<int>(i);
  }
  r->ips.push_back(std::move(ip));
  return absl::OkStatus();
}

absl::Status ParseRoutes(const nlohmann::json& doc, CniResult* r) {
  ASSIGN_OR_RETURN(nlohmann::json list, GetArray(doc, "routes"));
  for (const auto& item : list) {
    if (!item.is_object()) return Malformed("a route is not an object");
    CniRoute route;
    RETURN_IF_ERROR(GetString(item, "dst", &route.dst));
    RETURN_IF_ERROR(GetString(item, "gw", &route.gw));
    int family = 0;
    if (!ParseCidr(route.dst, &family)) {
      return Malformed(absl::StrCat("route dst \"", route.dst, "\" is not a CIDR"));
    }
    r->routes.push_back(std::move(route));
  }
  return absl::OkStatus();
}

absl::Status ParseDns(const nlohmann::json& doc, CniResult* r) {
  auto it = doc.find("dns");
  if (it == doc.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_object()) return Malformed("\"dns\" is not an object");
  RETURN_IF_ERROR(GetStrings(*it, "nameservers", &r->dns.nameservers));
  RETURN_IF_ERROR(GetString(*it, "domain", &r->dns.domain));
  RETURN_IF_ERROR(GetStrings(*it, "search", &r->dns.search));
  return GetStrings(*it, "options", &r->dns.options);
}

}  // namespace

std::string CniIpConfig::Ip() const { return address.substr(0, address.find('/')); }

absl::StatusOr<CniResult> ParseCniResult(const nlohmann::json& doc,
                                         std::string_view expected_version) {
  if (!doc.is_object()) return Malformed("not a JSON object");
  CniResult r;
  RETURN_IF_ERROR(GetString(doc, "cniVersion", &r.cni_version));
  if (r.cni_version.empty()) r.cni_version = std::string(expected_version);
  ASSIGN_OR_RETURN(CniVersion version, ParseCniVersion(r.cni_version));
  if (version < CniVersion{0, 3, 0}) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CNI result version ", r.cni_version, " is not supported (0.3.0 or later is)"));
  }
  RETURN_IF_ERROR(ParseInterfaces(doc, &r));
  ASSIGN_OR_RETURN(nlohmann::json ips, GetArray(doc, "ips"));
  const bool versioned = version < CniVersion{1, 0, 0};
  for (const auto& item : ips) RETURN_IF_ERROR(ParseIpConfig(item, versioned, &r));
  RETURN_IF_ERROR(ParseRoutes(doc, &r));
  RETURN_IF_ERROR(ParseDns(doc, &r));
  r.raw = doc;
  // Chained and cached results always say which version they are in.
  r.raw["cniVersion"] = r.cni_version;
  return r;
}

absl::StatusOr<CniResult> ParseCniResultText(std::string_view bytes,
                                             std::string_view expected_version) {
  nlohmann::json doc = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Malformed("not JSON");
  return ParseCniResult(doc, expected_version);
}

std::vector<std::string> PodIps(const CniResult& result) {
  std::vector<std::string> v4;
  std::vector<std::string> all;
  for (const CniIpConfig& ip : result.ips) {
    if (ip.interface && result.interfaces[*ip.interface].sandbox.empty()) continue;
    std::string addr = ip.Ip();
    if (std::find(all.begin(), all.end(), addr) != all.end()) continue;
    all.push_back(addr);
    if (!ip.ipv6) v4.push_back(addr);
  }
  if (!v4.empty() && all.front() != v4.front()) {
    all.erase(std::find(all.begin(), all.end(), v4.front()));
    all.insert(all.begin(), v4.front());
  }
  return all;
}

}  // namespace crius::cni
