#include "test/e2e/sandbox_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/status.h"
#include "gtest/gtest.h"
#include "sandbox/mountinfo.h"

namespace crius::testing {
namespace {

const std::vector<std::string>& ToolDirs() {
  static const std::vector<std::string> dirs = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
  return dirs;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::string Basename(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Mount points of every cgroup hierarchy (v1 and v2).
std::vector<std::string> CgroupMounts() {
  std::vector<std::string> out;
  auto mounts = sandbox::ReadMountInfo();
  if (!mounts.ok()) return out;
  for (const auto& m : *mounts) {
    if ((m.fstype == "cgroup" || m.fstype == "cgroup2") && m.root == "/") {
      if (std::find(out.begin(), out.end(), m.mount_point) == out.end()) out.push_back(m.mount_point);
    }
  }
  return out;
}

// Waits for `fd` to become ready for `events`; false on timeout.
bool PollFor(int fd, short events, absl::Time deadline) {
  while (true) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 1000)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

absl::Status SendAll(int fd, const std::string& data, absl::Time deadline) {
  size_t off = 0;
  while (off < data.size()) {
    if (!PollFor(fd, POLLOUT, deadline)) return absl::DeadlineExceededError("send timed out");
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) continue;
    if (n < 0) return ErrnoStatus("send");
    off += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Reads until a newline arrives; returns the line without it.
absl::StatusOr<std::string> ReadLine(int fd, absl::Time deadline) {
  std::string got;
  while (got.find('\n') == std::string::npos) {
    if (!PollFor(fd, POLLIN, deadline)) {
      return absl::DeadlineExceededError(absl::StrCat("read timed out after \"", got, "\""));
    }
    char buf[256];
    ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return ErrnoStatus("recv");
    if (n == 0) return absl::UnavailableError(absl::StrCat("peer closed after \"", got, "\""));
    got.append(buf, static_cast<size_t>(n));
  }
  return got.substr(0, got.find('\n'));
}

}  // namespace

std::string RandomHex(size_t n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) out.push_back(digits[rng() % 16]);
  return out;
}

absl::StatusOr<ExecResult> RunTool(const std::string& tool, const std::vector<std::string>& args) {
  ASSIGN_OR_RETURN(std::string path, FindExecutable(tool, ToolDirs()));
  ExecOptions opts;
  opts.argv = {path};
  opts.argv.insert(opts.argv.end(), args.begin(), args.end());
  opts.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  opts.timeout = absl::Seconds(60);
  return ExecChecked(opts);
}

std::string ToolOutput(const std::string& tool, const std::vector<std::string>& args) {
  auto r = RunTool(tool, args);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->stdout_data : std::string();
}

bool CanRunPodNetworkTests() {
  if (::geteuid() != 0) return false;
  for (const char* plugin : {"bridge", "host-local", "portmap", "loopback"}) {
    if (::access(absl::StrCat("/usr/lib/cni/", plugin).c_str(), X_OK) != 0) return false;
  }
  for (const char* tool : {"ip", "nsenter", "iptables-save"}) {
    if (!FindExecutable(tool, ToolDirs()).ok()) return false;
  }
  return true;
}

bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (done()) return true;
    if (absl::Now() >= deadline) return done();
    absl::SleepFor(absl::Milliseconds(20));
  }
}

bool WaitNetworkReady(client::CriClient& client, absl::Duration timeout) {
  return WaitUntil(
      [&] {
        auto s = client.Status(false);
        if (!s.ok()) return false;
        for (const auto& c : s->status().conditions()) {
          if (c.type() == "NetworkReady") return c.status();
        }
        return false;
      },
      timeout);
}

// --- TestSubnet ---

// Third octets 100-179: bench/run_pod_bench.sh uses 180 and 181 without a
// lock, and the CNI unit tests lock 200-249.
constexpr int kFirst = 100;
constexpr int kCount = 80;

TestSubnet::TestSubnet() {
  const int start = static_cast<int>(std::random_device{}() % kCount);
  for (int i = 0; i < kCount && !lock_.valid(); ++i) {
    const int octet = kFirst + (start + i) % kCount;
    const std::string path = absl::StrCat("/tmp/crius-cni-test-subnet-", octet, ".lock");
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (fd.valid() && ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
      lock_ = std::move(fd);
      octet_ = octet;
    }
  }
  EXPECT_TRUE(lock_.valid()) << "no free test subnet in 10.88." << kFirst << "-"
                             << kFirst + kCount - 1 << ".0/24";
}

std::string TestSubnet::cidr() const { return absl::StrCat("10.88.", octet_, ".0/24"); }
std::string TestSubnet::prefix() const { return absl::StrCat("10.88.", octet_, "."); }
std::string TestSubnet::gateway() const { return absl::StrCat("10.88.", octet_, ".1"); }

// --- BridgeNetwork ---

BridgeNetwork::BridgeNetwork(TestDaemon& daemon, bool portmap, std::string bridge_type)
    : daemon_(daemon),
      name_("crius-e2e-" + RandomHex(8)),
      bridge_("cre2e" + RandomHex(8)),
      ipam_dir_(daemon.dir() + "/ipam"),
      portmap_(portmap),
      bridge_type_(std::move(bridge_type)) {
  WriteTestFile(daemon_.cni_conf_dir() + "/10-" + name_ + ".conflist", conflist().dump(2));
}

BridgeNetwork::~BridgeNetwork() {
  if (::access(("/sys/class/net/" + bridge_).c_str(), F_OK) == 0) {
    auto r = RunTool("ip", {"link", "del", bridge_});
    EXPECT_TRUE(r.ok()) << "deleting test bridge: " << r.status();
  }
}

nlohmann::json BridgeNetwork::conflist() const {
  nlohmann::json bridge = {
      {"type", bridge_type_},
      {"bridge", bridge_},
      {"isGateway", true},
      {"ipMasq", false},
      {"ipam",
       {{"type", "host-local"},
        {"ranges", {{{{"subnet", subnet_.cidr()}}}}},
        {"dataDir", ipam_dir_}}}};
  nlohmann::json plugins = nlohmann::json::array({bridge});
  if (portmap_) {
    plugins.push_back({{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}});
  }
  return {{"cniVersion", "1.0.0"}, {"name", name_}, {"plugins", plugins}};
}

std::string BridgeNetwork::IpamFile(const std::string& ip) const {
  return ipam_dir_ + "/" + name_ + "/" + ip;
}

std::vector<std::string> BridgeNetwork::ReservedIps() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(ipam_dir_ + "/" + name_, ec)) {
    const std::string n = e.path().filename().string();
    // host-local also keeps "last_reserved_ip.0" and a lock file there.
    if (absl::StartsWith(n, subnet_.prefix())) out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> BridgeNetwork::BridgePorts() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/sys/class/net/" + bridge_ + "/brif", ec)) {
    out.push_back(e.path().filename().string());
  }
  return out;
}

// --- TestCgroupRoot ---

TestCgroupRoot::TestCgroupRoot() : path_("/crius-e2e-" + RandomHex(10)) {}

TestCgroupRoot::~TestCgroupRoot() {
  for (const std::string& mount : CgroupMounts()) {
    const std::string top = mount + path_;
    if (!Exists(top)) continue;
    std::vector<std::string> dirs = {top};
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(top, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) dirs.push_back(it->path().string());
    }
    // Longest path first removes children before their parents.
    std::sort(dirs.begin(), dirs.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    for (const auto& d : dirs) {
      if (::rmdir(d.c_str()) != 0 && errno != ENOENT) {
        ADD_FAILURE() << "removing test cgroup " << d << ": " << std::strerror(errno);
      }
    }
  }
}

std::vector<std::string> TestCgroupRoot::Existing() const {
  std::vector<std::string> out;
  for (const std::string& mount : CgroupMounts()) {
    if (Exists(mount + path_)) out.push_back(mount + path_);
  }
  return out;
}

// --- pod configs ---

runtime::v1::PodSandboxConfig PodConfig(const std::string& name, const std::string& uid) {
  runtime::v1::PodSandboxConfig c;
  auto* md = c.mutable_metadata();
  md->set_name(name);
  md->set_namespace_("crius-e2e");
  md->set_uid(uid.empty() ? name + "-" + RandomHex(12) : uid);
  md->set_attempt(0);
  c.set_hostname(name);
  c.set_log_directory("/var/log/pods/crius-e2e_" + name);
  (*c.mutable_labels())["io.kubernetes.pod.name"] = name;
  return c;
}

runtime::v1::PodSandboxConfig HostNetworkPodConfig(const std::string& name, bool host_ipc) {
  runtime::v1::PodSandboxConfig c = PodConfig(name);
  // kubelet sends no hostname for host-network pods.
  c.clear_hostname();
  auto* ns = c.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  ns->set_network(runtime::v1::NODE);
  if (host_ipc) ns->set_ipc(runtime::v1::NODE);
  return c;
}

absl::StatusOr<std::string> RunPod(client::CriClient& client,
                                   const runtime::v1::PodSandboxConfig& config) {
  runtime::v1::RunPodSandboxRequest req;
  *req.mutable_config() = config;
  // kubelet's deadline for this call.
  auto resp = client.RunPodSandbox(req, absl::Minutes(4));
  if (!resp.ok()) return resp.status();
  return resp->pod_sandbox_id();
}

absl::StatusOr<PodInspect> InspectPod(client::CriClient& client, const std::string& id) {
  runtime::v1::PodSandboxStatusRequest req;
  req.set_pod_sandbox_id(id);
  req.set_verbose(true);
  auto resp = client.PodSandboxStatus(req);
  if (!resp.ok()) return resp.status();
  PodInspect out;
  out.status = resp->status();
  auto it = resp->info().find("info");
  if (it == resp->info().end()) return absl::InternalError("verbose status has no \"info\" key");
  out.info = nlohmann::json::parse(it->second, nullptr, false);
  if (out.info.is_discarded()) return absl::InternalError("verbose info is not JSON: " + it->second);
  return out;
}

// --- PodReaper ---

std::string PodReaper::Run(const runtime::v1::PodSandboxConfig& config) {
  auto id = RunPod(daemon_.client(), config);
  EXPECT_TRUE(id.ok()) << id.status() << "\n" << daemon_.Log();
  if (!id.ok()) return "";
  Add(*id);
  return *id;
}

PodReaper::~PodReaper() {
  if (!daemon_.Running()) {
    // The test killed it: a fresh daemon on the same dirs recovers the
    // pods, so they can still be removed the normal way (CNI DEL included).
    auto s = daemon_.Start();
    if (!s.ok()) ADD_FAILURE() << "restarting criusd to clean up: " << s;
  }
  std::vector<std::string> ids = ids_;
  if (daemon_.Running()) {
    // The daemon is the test's own, so whatever it lists belongs to the test.
    auto listed = daemon_.client().ListPodSandbox();
    if (listed.ok()) {
      for (const auto& p : listed->items()) ids.push_back(p.id());
    }
    for (const std::string& id : ids) {
      runtime::v1::RemovePodSandboxRequest req;
      req.set_pod_sandbox_id(id);
      absl::Status last;
      // A DEL that fails once (a fault test's plugin) gets a second chance.
      for (int attempt = 0; attempt < 3; ++attempt) {
        last = daemon_.client().RemovePodSandbox(req).status();
        if (last.ok()) break;
      }
      if (!last.ok()) ADD_FAILURE() << "cleaning up pod " << id << ": " << last;
    }
  }
  // Last resort for a daemon that would not come back: nothing may stay
  // mounted under the temp dir (its removal would fail) or in /run/netns.
  std::vector<std::string> stale = MountsUnder(daemon_.dir() + "/");
  for (const std::string& id : ids) {
    const std::string pin = "/run/netns/crius-" + id.substr(0, std::min<size_t>(16, id.size()));
    for (const auto& m : MountsUnder(pin)) stale.push_back(m);
  }
  for (auto it = stale.rbegin(); it != stale.rend(); ++it) {
    ADD_FAILURE() << "force-unmounting leftover " << *it;
    (void)::umount2(it->c_str(), MNT_DETACH);
    if (absl::StartsWith(*it, "/run/netns/")) (void)::unlink(it->c_str());
  }
}

// --- footprints ---

absl::StatusOr<PodFootprint> FootprintOf(TestDaemon& daemon, const std::string& id,
                                         const BridgeNetwork* network,
                                         const TestCgroupRoot* cgroups) {
  ASSIGN_OR_RETURN(PodInspect p, InspectPod(daemon.client(), id));
  PodFootprint f;
  f.id = id;
  f.netns_path = p.info.value("netns", "");
  f.ip = p.status.network().ip();
  f.pod_dir = p.info.value("podDir", "");
  f.record_file = daemon.root_dir() + "/sandboxes/" + id + ".json";
  f.cache_dir = daemon.dir() + "/cni-cache";
  if (network != nullptr) {
    if (!f.ip.empty()) f.ipam_file = network->IpamFile(f.ip);
    const nlohmann::json& result = p.info.contains("cniResult") ? p.info["cniResult"] : nlohmann::json();
    if (result.is_object() && result.contains("interfaces")) {
      for (const auto& i : result["interfaces"]) {
        const std::string name = i.value("name", "");
        if (!i.contains("sandbox") && name != network->bridge()) f.host_veth = name;
      }
    }
  }
  const std::string parent = p.info.value("cgroupParent", "");
  if (!parent.empty()) {
    for (const std::string& mount : CgroupMounts()) f.cgroup.push_back(mount + parent);
  }
  if (cgroups != nullptr) f.cgroup_root = cgroups->path();
  return f;
}

std::vector<std::string> Leftovers(const TestDaemon& daemon, const PodFootprint& pod) {
  std::vector<std::string> out;
  auto note = [&](const std::string& what) { out.push_back(what); };
  if (!pod.netns_path.empty()) {
    if (Exists(pod.netns_path)) note("netns pin " + pod.netns_path);
    for (const auto& m : MountsUnder(pod.netns_path)) note("mount " + m);
    const std::vector<std::string> names = NetnsNames();
    if (std::find(names.begin(), names.end(), Basename(pod.netns_path)) != names.end()) {
      note("`ip netns list` shows " + Basename(pod.netns_path));
    }
  }
  for (const auto& m : MountsUnder(daemon.dir() + "/")) {
    if (absl::StrContains(m, pod.id)) note("mount " + m);
  }
  if (!pod.pod_dir.empty() && Exists(pod.pod_dir)) note("pod dir " + pod.pod_dir);
  if (Exists(pod.record_file)) note("pod record " + pod.record_file);
  if (!pod.host_veth.empty() && Exists("/sys/class/net/" + pod.host_veth)) {
    note("host veth " + pod.host_veth);
  }
  if (!pod.ipam_file.empty() && Exists(pod.ipam_file)) note("host-local IP file " + pod.ipam_file);
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(pod.cache_dir + "/results", ec)) {
    if (absl::StrContains(e.path().filename().string(), pod.id)) {
      note("CNI cache entry " + e.path().string());
    }
  }
  for (const auto& rule : NatRulesMentioning(pod.id)) note("iptables nat rule: " + rule);
  for (const auto& dir : pod.cgroup) {
    if (Exists(dir)) note("cgroup " + dir);
  }
  return out;
}

std::vector<std::string> MountsUnder(const std::string& prefix) {
  std::vector<std::string> out;
  auto mounts = sandbox::ReadMountInfo();
  EXPECT_TRUE(mounts.ok()) << mounts.status();
  if (!mounts.ok()) return out;
  for (const auto& m : *mounts) {
    if (absl::StartsWith(m.mount_point, prefix)) out.push_back(m.mount_point);
  }
  return out;
}

std::vector<std::string> NetnsNames() {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(ToolOutput("ip", {"netns", "list"}), '\n', absl::SkipEmpty())) {
    // Lines look like "name" or "name (id: 3)".
    out.emplace_back(line.substr(0, line.find(' ')));
  }
  return out;
}

std::vector<std::string> NatRulesMentioning(const std::string& needle) {
  std::vector<std::string> out;
  for (absl::string_view line :
       absl::StrSplit(ToolOutput("iptables-save", {"-t", "nat"}), '\n', absl::SkipEmpty())) {
    if (absl::StrContains(line, needle)) out.emplace_back(line);
  }
  return out;
}

// --- traffic ---

absl::StatusOr<UniqueFd> ListenInNetns(const std::string& netns_path, uint16_t port) {
  absl::StatusOr<UniqueFd> result = absl::InternalError("listener thread did not run");
  // setns(CLONE_NEWNET) moves only the calling thread, so a throwaway
  // thread enters the pod's namespace; the socket it makes stays bound to
  // that namespace after the thread is gone.
  std::thread t([&] {
    UniqueFd ns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns.valid()) {
      result = ErrnoStatus("open " + netns_path);
      return;
    }
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      result = ErrnoStatus("setns " + netns_path);
      return;
    }
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s.valid()) {
      result = ErrnoStatus("socket");
      return;
    }
    int one = 1;
    (void)::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      result = ErrnoStatus(absl::StrCat("bind :", port, " in ", netns_path));
      return;
    }
    if (::listen(s.get(), 8) != 0) {
      result = ErrnoStatus("listen");
      return;
    }
    result = std::move(s);
  });
  t.join();
  return result;
}

absl::Status ExchangeThrough(int listener, const std::string& addr, uint16_t port,
                             absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!c.valid()) return ErrnoStatus("socket");
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1) {
    return absl::InvalidArgumentError("bad IPv4 address " + addr);
  }
  const std::string where = absl::StrCat(addr, ":", port);
  if (::connect(c.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 && errno != EINPROGRESS) {
    return ErrnoStatus("connect " + where);
  }
  if (!PollFor(c.get(), POLLOUT, deadline)) return absl::DeadlineExceededError("connect " + where + " timed out");
  int err = 0;
  socklen_t len = sizeof(err);
  (void)::getsockopt(c.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return absl::UnavailableError(absl::StrCat("connect ", where, ": ", std::strerror(err)));

  if (!PollFor(listener, POLLIN, deadline)) {
    return absl::DeadlineExceededError("the pod's listener saw no connection from " + where);
  }
  UniqueFd server(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!server.valid()) return ErrnoStatus("accept");

  const std::string ping = "ping-" + RandomHex(8);
  RETURN_IF_ERROR(SendAll(c.get(), ping + "\n", deadline));
  ASSIGN_OR_RETURN(std::string got, ReadLine(server.get(), deadline));
  if (got != ping) return absl::DataLossError(absl::StrCat("pod got \"", got, "\", sent \"", ping, "\""));
  const std::string pong = "pong-" + RandomHex(8);
  RETURN_IF_ERROR(SendAll(server.get(), pong + "\n", deadline));
  ASSIGN_OR_RETURN(std::string back, ReadLine(c.get(), deadline));
  if (back != pong) return absl::DataLossError(absl::StrCat("host got \"", back, "\", pod sent \"", pong, "\""));
  return absl::OkStatus();
}

uint16_t UnusedPort() {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (!s.valid() || ::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "picking a free port: " << std::strerror(errno);
    return 0;
  }
  return ntohs(addr.sin_port);
}

absl::StatusOr<std::string> InNamespaces(const std::vector<std::string>& nsenter_flags,
                                         const std::vector<std::string>& argv) {
  std::vector<std::string> args = nsenter_flags;
  args.push_back("--");
  args.insert(args.end(), argv.begin(), argv.end());
  ASSIGN_OR_RETURN(ExecResult r, RunTool("nsenter", args));
  return r.stdout_data;
}

}  // namespace crius::testing
