#pragma once
// Helpers for the cni tests (unit and fault tiers): fake plugin scripts,
// and RAII owners for the kernel objects the real-plugin tests create
// (network namespaces, bridges, a /24 of 10.88.0.0/16), so every test
// cleans up after itself even when an assertion fails halfway.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/exec.h"
#include "common/files.h"
#include "common/status.h"
#include "common/unique_fd.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "test/unit/common/temp_dir.h"

namespace crius::cni::testing {

using crius::testing::TempDir;

inline const std::vector<std::string>& SystemBinDirs() {
  static const std::vector<std::string> dirs = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
  return dirs;
}

inline constexpr char kRealPluginDir[] = "/usr/lib/cni";

inline std::string RandomHex(size_t n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) out.push_back(digits[rng() % 16]);
  return out;
}

// Runs a system tool (ip, iptables-save) with a plain environment.
inline absl::StatusOr<ExecResult> RunTool(const std::string& tool,
                                          const std::vector<std::string>& args) {
  ASSIGN_OR_RETURN(std::string path, FindExecutable(tool, SystemBinDirs()));
  ExecOptions opts;
  opts.argv = {path};
  opts.argv.insert(opts.argv.end(), args.begin(), args.end());
  opts.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  opts.timeout = absl::Seconds(60);
  return ExecChecked(opts);
}

inline std::string ToolOutput(const std::string& tool, const std::vector<std::string>& args) {
  auto r = RunTool(tool, args);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->stdout_data : std::string();
}

inline bool CanUseRealPlugins() {
  return ::geteuid() == 0 && ::access("/usr/lib/cni/bridge", X_OK) == 0 &&
         FindExecutable("ip", SystemBinDirs()).ok();
}

// A network namespace of the test's own, at /run/netns/crius-t-<random>.
class TestNetns {
 public:
  TestNetns() : name_("crius-t-" + RandomHex(10)) {
    auto r = RunTool("ip", {"netns", "add", name_});
    EXPECT_TRUE(r.ok()) << r.status();
    created_ = r.ok();
  }
  ~TestNetns() { Remove(); }
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;

  void Remove() {
    if (!created_) return;
    created_ = false;
    auto r = RunTool("ip", {"netns", "delete", name_});
    EXPECT_TRUE(r.ok()) << r.status();
  }
  const std::string& name() const { return name_; }
  std::string path() const { return "/run/netns/" + name_; }
  // `ip -o addr show` (or any `ip` command) inside the namespace.
  std::string Ip(const std::vector<std::string>& args) const {
    std::vector<std::string> full = {"netns", "exec", name_, "ip"};
    full.insert(full.end(), args.begin(), args.end());
    return ToolOutput("ip", full);
  }

 private:
  std::string name_;
  bool created_ = false;
};

// A bridge name of the test's own; the bridge (created by the plugin) and
// any link left under the name are deleted at the end.
class TestBridge {
 public:
  TestBridge() : name_("crt" + RandomHex(10)) {}
  ~TestBridge() {
    if (LinkExists(name_)) {
      auto r = RunTool("ip", {"link", "delete", name_});
      EXPECT_TRUE(r.ok()) << r.status();
    }
  }
  TestBridge(const TestBridge&) = delete;
  TestBridge& operator=(const TestBridge&) = delete;
  const std::string& name() const { return name_; }

  static bool LinkExists(const std::string& name) {
    return ::access(("/sys/class/net/" + name).c_str(), F_OK) == 0;
  }

 private:
  std::string name_;
};

// A /24 of 10.88.0.0/16 no other test of this suite holds at the same time:
// each third octet is claimed by an exclusive lock on a file, released when
// the subnet is destroyed (or the process dies). Octets 200-249 keep clear
// of the low addresses the default 10.88.0.0/16 network hands out first.
class TestSubnet {
 public:
  TestSubnet() {
    size_t start = std::random_device{}() % 50;
    for (size_t i = 0; i < 50 && !lock_; ++i) {
      int octet = 200 + static_cast<int>((start + i) % 50);
      std::string path = absl::StrCat("/tmp/crius-cni-test-subnet-", octet, ".lock");
      UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
      if (fd && ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
        lock_ = std::move(fd);
        octet_ = octet;
      }
    }
    EXPECT_TRUE(lock_.valid()) << "no free test subnet";
  }
  std::string cidr() const { return absl::StrCat("10.88.", octet_, ".0/24"); }
  std::string prefix() const { return absl::StrCat("10.88.", octet_, "."); }

 private:
  UniqueFd lock_;
  int octet_ = 0;
};

// Writes an executable file.
inline void WriteExecutable(const std::string& path, const std::string& body) {
  ASSERT_TRUE(WriteFileAtomic(path, body, 0755).ok()) << path;
}

// A fake plugin: a /bin/sh script that appends "<name> <CNI_COMMAND>" to
// <log>/calls, saves its stdin and environment as <log>/<name>.<CMD>.stdin
// and .env (the last call of each command), then runs `behaviour` (shell
// code; by default it prints `result` for ADD and nothing otherwise).
inline std::string FakePluginScript(const std::string& name, const std::string& log_dir,
                                    const std::string& result,
                                    const std::string& behaviour = "") {
  std::string script = absl::StrCat(
      "#!/bin/sh\n",
      "log='", log_dir, "'\n",
      "echo \"", name, " $CNI_COMMAND\" >> \"$log/calls\"\n",
      "cat > \"$log/", name, ".$CNI_COMMAND.stdin\"\n",
      "env > \"$log/", name, ".$CNI_COMMAND.env\"\n",
      behaviour, "\n",
      "if [ \"$CNI_COMMAND\" = ADD ]; then cat <<'CRIUS_EOF'\n", result, "\nCRIUS_EOF\nfi\n",
      "exit 0\n");
  return script;
}

// `behaviour` for a fake plugin whose ADD prints its prevResult back, as
// meta plugins do. The runtime's stdin is one line with sorted keys
// (nlohmann's dump), so in the config of a plugin without capabilities
// prevResult is followed only by the plugin's own "type".
inline std::string PassThroughAdd(const std::string& name, const std::string& log_dir) {
  return absl::StrCat("if [ \"$CNI_COMMAND\" = ADD ]; then sed -n "
                      "'s/.*\"prevResult\":\\(.*\\),\"type\":.*$/\\1/p' \"",
                      log_dir, "/", name, ".ADD.stdin\"; exit 0; fi");
}

inline std::vector<std::string> ReadLines(const std::string& path) {
  auto data = ReadFile(path);
  if (!data.ok()) return {};
  return absl::StrSplit(*data, '\n', absl::SkipEmpty());
}

inline nlohmann::json ReadJson(const std::string& path) {
  auto data = ReadFile(path);
  EXPECT_TRUE(data.ok()) << data.status();
  if (!data.ok()) return nullptr;
  return nlohmann::json::parse(*data, nullptr, false);
}

// The value of NAME in a saved `env` dump.
inline std::string EnvValue(const std::string& env_file, const std::string& name) {
  for (const std::string& line : ReadLines(env_file)) {
    if (line.rfind(name + "=", 0) == 0) return line.substr(name.size() + 1);
  }
  return "<unset>";
}

}  // namespace crius::cni::testing
