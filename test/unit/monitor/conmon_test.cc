// Monitor against the real conmon and runc, as root: containers are created
// through conmon, started with runc, and their exits, CRI logs and log
// reopening observed the way criusd observes them. Every test uses its own
// ids, directories, runc root and cgroup, and removes all of them (runc
// delete -f, conmon ended by pid, cgroup dirs) even when it fails.
//
// The test process makes itself a child subreaper, as criusd is: conmon
// then becomes our child when its launcher exits, and is reaped by pid, so
// "conmon is gone" can be checked exactly instead of waiting on PID 1.

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/exec.h"
#include "common/files.h"
#include "common/strings.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "oci/exit_watcher.h"
#include "oci/monitor.h"
#include "test/unit/monitor/monitor_test_util.h"

namespace crius::oci {
namespace {

using testing::Recorder;
using testing::TempDir;

const std::vector<std::string> kBinDirs = {"/usr/sbin", "/usr/bin", "/sbin", "/bin"};
const std::vector<std::string> kEnv = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};

std::string UniqueSuffix() {
  static std::atomic<int> counter{0};
  unsigned random = 0;
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (::read(fd, &random, sizeof(random)) != sizeof(random)) random = 0;
    ::close(fd);
  }
  return absl::StrFormat("%d-%08x-%d", ::getpid(), random, counter++);
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Polls `cond` until it holds or `timeout` passes; the condition is what the
// test waits for, the interval only bounds how late it notices.
bool WaitUntil(const std::function<bool()>& cond, absl::Duration timeout = absl::Seconds(20)) {
  absl::Time deadline = absl::Now() + timeout;
  while (!cond()) {
    if (absl::Now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

std::string ReadOr(const std::string& path) {
  auto content = ReadFile(path);
  return content.ok() ? *content : "";
}

struct LogEntry {
  std::string time, stream, tag, text;
};

// Parses CRI log lines: "<RFC3339Nano> <stdout|stderr> <P|F> <text>".
std::vector<LogEntry> ParseLog(const std::string& content) {
  static const std::regex kTime(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d)$)");
  std::vector<LogEntry> entries;
  for (absl::string_view line : absl::StrSplit(content, '\n', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(' ', 3));
    EXPECT_GE(parts.size(), 3u) << line;
    if (parts.size() < 3) continue;
    LogEntry e{parts[0], parts[1], parts[2], parts.size() == 4 ? parts[3] : ""};
    EXPECT_TRUE(std::regex_match(e.time, kTime)) << "timestamp: " << e.time;
    EXPECT_TRUE(e.stream == "stdout" || e.stream == "stderr") << line;
    EXPECT_TRUE(e.tag == "P" || e.tag == "F") << line;
    entries.push_back(std::move(e));
  }
  return entries;
}

class ConmonTest : public ::testing::Test {
 protected:
  struct Container {
    std::string id;
    std::string bundle;
    std::string cgroup;  // relative to each hierarchy's root
    std::string log_path;
    CreateRequest request;
  };

  static void SetUpTestSuite() { ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0); }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (runc, cgroups)";
    auto conmon = FindExecutable("conmon", kBinDirs);
    auto runc = FindExecutable("runc", kBinDirs);
    if (!conmon.ok() || !runc.ok() || !Exists("/bin/busybox")) {
      GTEST_SKIP() << "needs conmon, runc and busybox-static";
    }
    runc_ = *runc;
    base_ = std::make_unique<TempDir>();
    ASSERT_FALSE(base_->path().empty());
    config_.conmon_path = *conmon;
    config_.runtime_path = runc_;
    config_.runtime_root = JoinPath(base_->path(), "runc");
    config_.exit_dir = JoinPath(base_->path(), "exits");
    config_.socket_dir = JoinPath(base_->path(), "s");
  }

  void TearDown() override {
    for (const auto& c : containers_) ForceCleanup(c);
    base_.reset();
  }

  // A bundle whose rootfs is busybox-static and whose process runs
  // /bin/sh -c <script>, in its own cgroup.
  Container MakeContainer(const std::string& script, bool readonly_root = true) {
    return MakeContainerArgs({"/bin/sh", "-c", script}, readonly_root);
  }

  // `id_length` > 0 pads the id with hex digits to that length (crius's
  // container ids are 64).
  Container MakeContainerArgs(const std::vector<std::string>& args, bool readonly_root = true,
                              size_t id_length = 0) {
    Container c;
    std::string suffix = UniqueSuffix();
    c.id = absl::StrCat("mon-", suffix);
    if (id_length > c.id.size()) c.id += std::string(id_length - c.id.size(), 'a');
    c.bundle = JoinPath(base_->path(), c.id);
    c.cgroup = absl::StrCat("crius-montest-", suffix);
    c.log_path = JoinPath(base_->path(), "logs", absl::StrCat(c.id, ".log"));
    containers_.push_back(c);
    std::string bin = JoinPath(c.bundle, "rootfs", "bin");
    EXPECT_TRUE(MkdirAll(bin).ok());
    EXPECT_TRUE(MkdirAll(JoinPath(base_->path(), "logs")).ok());
    RunChecked({"/bin/cp", "/bin/busybox", JoinPath(bin, "busybox")});
    for (const char* applet :
         {"sh", "echo", "sleep", "head", "tr", "cat", "touch", "test", "true"}) {
      EXPECT_EQ(::symlink("busybox", JoinPath(bin, applet).c_str()), 0) << applet;
    }
    RunChecked({runc_, "spec", "--bundle", c.bundle});
    auto spec = nlohmann::json::parse(ReadOr(JoinPath(c.bundle, "config.json")));
    spec["process"]["terminal"] = false;
    spec["process"]["args"] = args;
    spec["root"]["readonly"] = readonly_root;
    spec["linux"]["cgroupsPath"] = absl::StrCat("/", c.cgroup);
    EXPECT_TRUE(WriteFileAtomic(JoinPath(c.bundle, "config.json"), spec.dump()).ok());
    c.request.id = c.id;
    c.request.name = absl::StrCat("name-", c.id);
    c.request.bundle = c.bundle;
    c.request.log_path = c.log_path;
    c.request.timeout = absl::Seconds(30);
    containers_.back() = c;
    return c;
  }

  ExecResult Runc(std::vector<std::string> args) {
    std::vector<std::string> argv = {runc_, "--root", config_.runtime_root};
    argv.insert(argv.end(), args.begin(), args.end());
    ExecOptions o;
    o.argv = argv;
    o.env = kEnv;
    o.timeout = absl::Seconds(30);
    auto r = Exec(o);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : ExecResult{};
  }

  void RunChecked(std::vector<std::string> argv) {
    ExecOptions o;
    o.argv = std::move(argv);
    o.env = kEnv;
    auto r = ExecChecked(o);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  std::string RuncStatus(const std::string& id) {
    ExecResult r = Runc({"state", id});
    if (r.exit_code != 0) return "";
    auto j = nlohmann::json::parse(r.stdout_data, nullptr, false);
    return j.is_object() ? j.value("status", "") : "";
  }

  // Ids runc still knows under this test's root.
  std::string RuncList() {
    ExecResult r = Runc({"list", "-q"});
    return std::string(absl::StripAsciiWhitespace(r.stdout_data));
  }

  std::vector<std::string> CgroupDirs(const Container& c) {
    std::vector<std::string> found;
    for (const char* h : {"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory",
                          "pids", "systemd", "unified", ""}) {
      std::string dir = JoinPath("/sys/fs/cgroup", h, c.cgroup);
      if (Exists(dir)) found.push_back(dir);
    }
    return found;
  }

  // conmon of `c` as recorded in its pidfile, if that process still runs.
  ProcessIdentity ConmonOf(const Container& c) {
    int pid = 0;
    std::string content = ReadOr(ConmonPidfilePath(c.request));
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(content), &pid) || pid <= 0) return {};
    auto id = IdentifyProcess(pid);
    if (!id.ok()) return {};
    // Only a process started for this container counts (pids get reused).
    if (!absl::StrContains(ReadOr(absl::StrCat("/proc/", pid, "/cmdline")), c.id)) return {};
    return *id;
  }

  void ExpectNoLeftovers(const Container& c) {
    ProcessIdentity conmon = ConmonOf(c);
    EXPECT_FALSE(IsProcessAlive(conmon)) << "conmon " << conmon.pid << " still runs";
    EXPECT_FALSE(absl::StrContains(RuncList(), c.id)) << RuncList();
    EXPECT_TRUE(CgroupDirs(c).empty()) << CgroupDirs(c)[0];
    EXPECT_FALSE(Exists(JoinPath(config_.socket_dir, AttachKey(c.id))))
        << "attach symlink left behind";
  }

  void ForceCleanup(const Container& c) {
    Runc({"delete", "--force", c.id});
    ProcessIdentity conmon = ConmonOf(c);
    if (conmon.pid > 0 && IsProcessAlive(conmon)) {
      ::kill(conmon.pid, SIGKILL);
      EXPECT_TRUE(WaitForProcessExit(conmon, absl::Seconds(10)).ok());
    }
    if (conmon.pid > 0) ReapIfChild(conmon.pid);
    for (const auto& dir : CgroupDirs(c)) ::rmdir(dir.c_str());
    (void)Monitor(config_).RemoveContainerFiles(c.id);
  }

  // Waits for conmon to exit after its container did, and reaps it.
  void ExpectConmonExits(const ProcessIdentity& conmon) {
    EXPECT_TRUE(WaitForProcessExit(conmon, absl::Seconds(20)).ok()) << "conmon " << conmon.pid;
    EXPECT_FALSE(IsProcessAlive(conmon));
  }

  std::string runc_;
  std::unique_ptr<TempDir> base_;
  MonitorConfig config_;
  std::vector<Container> containers_;
};

TEST_F(ConmonTest, CreateStartExitAndCriLog) {
  Recorder rec;
  auto watcher = ExitWatcher::Start(config_.exit_dir, rec.callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  Container c = MakeContainer("echo hello; echo err >&2; exit 3");
  Monitor monitor(config_);

  auto created = monitor.Create(c.request);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_GT(created->container_pid, 0);
  EXPECT_TRUE(IsProcessAlive(created->conmon));
  EXPECT_EQ(ReadOr(created->container_pidfile), absl::StrCat(created->container_pid));
  EXPECT_EQ(RuncStatus(c.id), "created");
  EXPECT_TRUE(Exists(JoinPath(c.bundle, "ctl")));
  EXPECT_TRUE(Exists(monitor.AttachSocketPath(c.id)));
  EXPECT_FALSE(rec.WaitFor(c.id, nullptr, absl::ZeroDuration())) << "exit reported before start";

  absl::Time started = absl::Now();
  ExecResult start = Runc({"start", c.id});
  ASSERT_EQ(start.exit_code, 0) << start.stderr_data;
  ExitEvent exit;
  ASSERT_TRUE(rec.WaitFor(c.id, &exit)) << "no exit reported";
  EXPECT_EQ(exit.exit_code, 3);
  EXPECT_GE(exit.finished_at, started - absl::Seconds(1));
  EXPECT_LE(exit.finished_at, absl::Now() + absl::Seconds(1));
  auto direct = ReadExitFile(config_.exit_dir, c.id);
  ASSERT_TRUE(direct.ok()) << direct.status();
  EXPECT_EQ(direct->exit_code, 3);
  ExpectConmonExits(created->conmon);

  // conmon flushed both streams before writing the exit file.
  std::vector<LogEntry> log = ParseLog(ReadOr(c.log_path));
  std::vector<std::string> lines;
  for (const auto& e : log) lines.push_back(absl::StrCat(e.stream, " ", e.tag, " ", e.text));
  EXPECT_EQ(lines, (std::vector<std::string>{"stdout F hello", "stderr F err"}));

  EXPECT_EQ(RuncStatus(c.id), "stopped");
  EXPECT_EQ(Runc({"delete", c.id}).exit_code, 0);
  EXPECT_TRUE(Monitor(config_).RemoveContainerFiles(c.id).ok());
  EXPECT_FALSE(ReadExitFile(config_.exit_dir, c.id).ok());
  ExpectNoLeftovers(c);
}

TEST_F(ConmonTest, LongLineIsSplitIntoPartialEntries) {
  Container c = MakeContainer("head -c 20000 /dev/zero | tr '\\0' a; echo; echo short");
  Monitor monitor(config_);
  auto created = monitor.Create(c.request);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ(Runc({"start", c.id}).exit_code, 0);
  ASSERT_TRUE(WaitUntil([&] { return ReadExitFile(config_.exit_dir, c.id).ok(); }));
  ExpectConmonExits(created->conmon);

  std::vector<LogEntry> log = ParseLog(ReadOr(c.log_path));
  ASSERT_GE(log.size(), 4u);
  // The long line: P entries of at most conmon's 8 KiB read buffer, closed
  // by one F entry; together they are the line.
  std::string joined;
  size_t i = 0;
  for (; i < log.size() && log[i].tag == "P"; ++i) {
    EXPECT_LE(log[i].text.size(), 8192u);
    joined += log[i].text;
  }
  EXPECT_GE(i, 2u) << "a 20000-byte line needs at least three 8 KiB reads";
  ASSERT_LT(i, log.size());
  EXPECT_EQ(log[i].tag, "F");
  joined += log[i].text;
  EXPECT_EQ(joined, std::string(20000, 'a'));
  ASSERT_EQ(log.size(), i + 2);
  EXPECT_EQ(log[i + 1].tag, "F");
  EXPECT_EQ(log[i + 1].text, "short");
  for (const auto& e : log) EXPECT_EQ(e.stream, "stdout");

  EXPECT_EQ(Runc({"delete", c.id}).exit_code, 0);
  EXPECT_TRUE(Monitor(config_).RemoveContainerFiles(c.id).ok());
  EXPECT_FALSE(ReadExitFile(config_.exit_dir, c.id).ok());
  ExpectNoLeftovers(c);
}

// criusd restarting: the process that launched conmon dies; the container
// keeps running and logging, and its exit is still recorded for whoever
// looks next.
TEST_F(ConmonTest, ContainerOutlivesTheProcessThatCreatedIt) {
  Container c = MakeContainer("echo started; while true; do sleep 1; done");
  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
  pid_t launcher = ::fork();
  ASSERT_GE(launcher, 0);
  if (launcher == 0) {
    // The short-lived "criusd": create through conmon, report, die.
    Monitor monitor(config_);
    auto created = monitor.Create(c.request);
    pid_t report[2] = {created.ok() ? created->conmon.pid : -1,
                       created.ok() ? created->container_pid : -1};
    ssize_t n = ::write(pipefd[1], report, sizeof(report));
    ::_exit(n == sizeof(report) ? 0 : 1);
  }
  ::close(pipefd[1]);
  pid_t report[2] = {-1, -1};
  ssize_t n = ::read(pipefd[0], report, sizeof(report));
  ::close(pipefd[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(launcher, &status, 0), launcher);
  ASSERT_EQ(n, static_cast<ssize_t>(sizeof(report)));
  ASSERT_GT(report[0], 0) << "create failed in the launcher";
  auto conmon = IdentifyProcess(report[0]);
  ASSERT_TRUE(conmon.ok()) << conmon.status();
  ASSERT_TRUE(IsProcessAlive(*conmon)) << "conmon died with its launcher";

  ASSERT_EQ(Runc({"start", c.id}).exit_code, 0);
  ASSERT_TRUE(WaitUntil([&] { return absl::StrContains(ReadOr(c.log_path), "stdout F started"); }))
      << "container output not logged after its launcher died";
  EXPECT_EQ(RuncStatus(c.id), "running");
  EXPECT_TRUE(IsProcessAlive(*conmon));

  ASSERT_EQ(Runc({"kill", c.id, "KILL"}).exit_code, 0);
  ExpectConmonExits(*conmon);
  // A watcher started afterwards (the restarted daemon) still sees the exit.
  Recorder rec;
  auto watcher = ExitWatcher::Start(config_.exit_dir, rec.callback(), /*report_existing=*/true);
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  ExitEvent exit;
  ASSERT_TRUE(rec.WaitFor(c.id, &exit));
  EXPECT_EQ(exit.exit_code, 128 + SIGKILL);

  EXPECT_EQ(Runc({"delete", c.id}).exit_code, 0);
  EXPECT_TRUE(Monitor(config_).RemoveContainerFiles(c.id).ok());
  EXPECT_FALSE(ReadExitFile(config_.exit_dir, c.id).ok());
  ExpectNoLeftovers(c);
}

TEST_F(ConmonTest, ReopenLogMovesOutputToTheNewFile) {
  // The container waits for marker files the test drops into its rootfs,
  // so each line is written exactly when the test wants it.
  Container c = MakeContainer(
      "echo before; while [ ! -e /go ]; do sleep 0.02; done; echo after;"
      " while [ ! -e /stop ]; do sleep 0.02; done",
      /*readonly_root=*/false);
  Monitor monitor(config_);
  auto created = monitor.Create(c.request);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ(Runc({"start", c.id}).exit_code, 0);
  ASSERT_TRUE(WaitUntil([&] { return absl::StrContains(ReadOr(c.log_path), "stdout F before"); }));

  // kubelet's rotation: move the file away, then ask for a reopen.
  std::string rotated = absl::StrCat(c.log_path, ".1");
  ASSERT_EQ(::rename(c.log_path.c_str(), rotated.c_str()), 0);
  ASSERT_TRUE(Monitor::ReopenLog(c.bundle, c.log_path).ok());
  ASSERT_TRUE(Exists(c.log_path)) << "ReopenLog returned before the new file existed";

  RunChecked({"/bin/touch", JoinPath(c.bundle, "rootfs", "go")});
  ASSERT_TRUE(WaitUntil([&] { return absl::StrContains(ReadOr(c.log_path), "stdout F after"); }));
  EXPECT_FALSE(absl::StrContains(ReadOr(c.log_path), "before"));
  EXPECT_FALSE(absl::StrContains(ReadOr(rotated), "after"));
  EXPECT_TRUE(absl::StrContains(ReadOr(rotated), "stdout F before"));

  // Reopen without moving the file: conmon replaces it with a new, empty one.
  ASSERT_TRUE(Monitor::ReopenLog(c.bundle, c.log_path).ok());
  EXPECT_EQ(ReadOr(c.log_path), "");

  RunChecked({"/bin/touch", JoinPath(c.bundle, "rootfs", "stop")});
  ASSERT_TRUE(WaitUntil([&] { return ReadExitFile(config_.exit_dir, c.id).ok(); }));
  EXPECT_EQ(ReadExitFile(config_.exit_dir, c.id)->exit_code, 0);
  ExpectConmonExits(created->conmon);

  // Nobody reads the control fifo any more.
  absl::Status late = Monitor::ReopenLog(c.bundle, c.log_path);
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition) << late;

  EXPECT_EQ(Runc({"delete", c.id}).exit_code, 0);
  EXPECT_TRUE(Monitor(config_).RemoveContainerFiles(c.id).ok());
  EXPECT_FALSE(ReadExitFile(config_.exit_dir, c.id).ok());
  ExpectNoLeftovers(c);
}

TEST_F(ConmonTest, RuntimeCreateFailureReturnsRuncsMessageAndLeavesNothing) {
  Recorder rec;
  auto watcher = ExitWatcher::Start(config_.exit_dir, rec.callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  Container c = MakeContainerArgs({"/nonexistent"});
  Monitor monitor(config_);
  auto created = monitor.Create(c.request);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(absl::StrContains(created.status().message(), "runtime create failed"))
      << created.status();
  EXPECT_TRUE(absl::StrContains(created.status().message(), "/nonexistent")) << created.status();
  EXPECT_TRUE(absl::StrContains(created.status().message(), "no such file or directory"))
      << created.status();
  EXPECT_TRUE(absl::StrContains(created.status().message(), c.id)) << created.status();

  // conmon is gone and reaped by Create itself, not merely exiting.
  int pid = 0;
  ASSERT_TRUE(
      absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadOr(ConmonPidfilePath(c.request))), &pid));
  EXPECT_FALSE(Exists(absl::StrCat("/proc/", pid))) << "conmon " << pid << " not gone";
  EXPECT_EQ(RuncList(), "");
  ExpectNoLeftovers(c);
  EXPECT_FALSE(ReadExitFile(config_.exit_dir, c.id).ok());
  EXPECT_EQ(rec.Count(c.id), 0);
}

TEST_F(ConmonTest, ConmonFailureCarriesConmonsOwnMessage) {
  Container c = MakeContainer("true");
  MonitorConfig broken = config_;
  broken.runtime_path = "/nonexistent/runc";
  auto created = Monitor(broken).Create(c.request);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInternal) << created.status();
  EXPECT_TRUE(absl::StrContains(created.status().message(), "/nonexistent/runc"))
      << created.status();
  EXPECT_EQ(RuncList(), "");
  ExpectNoLeftovers(c);
}

// A runtime that never finishes `create`: Create gives up at its deadline
// and kills conmon, whose parent-death signal takes the runtime down too.
TEST_F(ConmonTest, HangingRuntimeCreateTimesOutAndLeavesNoProcess) {
  Container c = MakeContainer("true");
  std::string runtime_pid = JoinPath(base_->path(), "hanging-runtime.pid");
  std::string script = JoinPath(base_->path(), "hanging-runtime");
  ASSERT_TRUE(WriteFileAtomic(
                  script,
                  absl::StrCat("#!/bin/sh\necho $$ > ", runtime_pid, "\nexec /bin/sleep 1000\n"),
                  0755)
                  .ok());
  MonitorConfig hanging = config_;
  hanging.runtime_path = script;
  c.request.timeout = absl::Seconds(2);
  absl::Time begin = absl::Now();
  auto created = Monitor(hanging).Create(c.request);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), absl::StatusCode::kDeadlineExceeded) << created.status();
  EXPECT_LT(absl::Now() - begin, absl::Seconds(15)) << "Create overran its deadline";

  int pid = 0;
  ASSERT_TRUE(WaitUntil([&] {
    return absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadOr(runtime_pid)), &pid) && pid > 0;
  }));
  auto runtime = IdentifyProcess(pid);
  if (runtime.ok()) {
    // Killed by the parent-death signal; we may be its reaper now.
    EXPECT_TRUE(WaitForProcessExit(*runtime, absl::Seconds(10)).ok())
        << "runtime " << pid << " survived";
  }
  ExpectNoLeftovers(c);
}

TEST_F(ConmonTest, WithoutLogPathOutputIsDiscarded) {
  Container c = MakeContainer("echo nobody-reads-this");
  c.request.log_path.clear();
  Monitor monitor(config_);
  auto created = monitor.Create(c.request);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ(Runc({"start", c.id}).exit_code, 0);
  ASSERT_TRUE(WaitUntil([&] { return ReadExitFile(config_.exit_dir, c.id).ok(); }));
  EXPECT_EQ(ReadExitFile(config_.exit_dir, c.id)->exit_code, 0);
  ExpectConmonExits(created->conmon);
  EXPECT_FALSE(Exists(c.log_path));
  EXPECT_EQ(Runc({"delete", c.id}).exit_code, 0);
  EXPECT_TRUE(Monitor(config_).RemoveContainerFiles(c.id).ok());
  EXPECT_FALSE(ReadExitFile(config_.exit_dir, c.id).ok());
  ExpectNoLeftovers(c);
}

TEST_F(ConmonTest, InvalidRequestsStartNothing) {
  Container c = MakeContainer("true");
  Monitor monitor(config_);
  CreateRequest bad = c.request;
  bad.id = "../escape";
  EXPECT_EQ(monitor.Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = c.request;
  bad.log_path = "/var/log/a:b.log";
  EXPECT_EQ(monitor.Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = c.request;
  bad.bundle = "relative/bundle";
  EXPECT_EQ(monitor.Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
  MonitorConfig long_sockets = config_;
  long_sockets.socket_dir = absl::StrCat("/tmp/", std::string(100, 's'));
  EXPECT_EQ(Monitor(long_sockets).Create(c.request).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Exists(ConmonPidfilePath(c.request)));
  ExpectNoLeftovers(c);
}

// A full 64-character container id under a 60-byte socket dir (e.g. a
// state dir of 53 bytes plus "/attach") still gets a usable attach socket:
// the symlink is named after the id's first 32 characters.
TEST_F(ConmonTest, FullLengthIdsFitUnderALongSocketDir) {
  Recorder rec;
  auto watcher = ExitWatcher::Start(config_.exit_dir, rec.callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  MonitorConfig config = config_;
  const std::string prefix = JoinPath(base_->path(), "");
  ASSERT_LT(prefix.size(), 60u);
  config.socket_dir = prefix + std::string(60 - prefix.size(), 'd');
  ASSERT_EQ(config.socket_dir.size(), 60u);
  Container c = MakeContainerArgs({"/bin/sh", "-c", "exit 0"}, true, 64);
  ASSERT_EQ(c.id.size(), 64u);
  Monitor monitor(config);
  auto created = monitor.Create(c.request);
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string attach = monitor.AttachSocketPath(c.id);
  EXPECT_LE(attach.size(), 107u) << attach;
  struct stat st;
  ASSERT_EQ(::stat(attach.c_str(), &st), 0) << attach;
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  ExecResult start = Runc({"start", c.id});
  ASSERT_EQ(start.exit_code, 0) << start.stderr_data;
  ASSERT_TRUE(rec.WaitFor(c.id, nullptr)) << "no exit reported";
  ExpectConmonExits(created->conmon);
  EXPECT_EQ(Runc({"delete", "--force", c.id}).exit_code, 0);
  EXPECT_TRUE(monitor.RemoveContainerFiles(c.id).ok());
  EXPECT_FALSE(Exists(JoinPath(config.socket_dir, AttachKey(c.id)))) << "symlink left";
}

TEST_F(ConmonTest, ArgvIsWhatCrioPasses) {
  Container c = MakeContainer("true");
  c.request.log_size_max = 1024;
  c.request.open_stdin = true;
  std::vector<std::string> argv = Monitor(config_).BuildArgv(c.request);
  std::string line = absl::StrJoin(argv, " ");
  EXPECT_TRUE(absl::StrContains(
      line, absl::StrCat("--api-version 1 -b ", c.bundle, " -c ", c.id, " -u ", c.id)))
      << line;
  EXPECT_TRUE(absl::StrContains(line, absl::StrCat("--runtime-arg --root=", config_.runtime_root)))
      << line;
  EXPECT_TRUE(absl::StrContains(line, absl::StrCat("-l k8s-file:", c.log_path))) << line;
  EXPECT_TRUE(absl::StrContains(line, "--log-size-max 1024")) << line;
  EXPECT_TRUE(absl::StrContains(line, "-i --leave-stdin-open")) << line;
  EXPECT_FALSE(absl::StrContains(line, " -t")) << line;
}

TEST(ProcessIdentityTest, TellsLiveFromExitedAndReused) {
  auto self = IdentifyProcess(::getpid());
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_GT(self->start_time, 0u);
  EXPECT_TRUE(IsProcessAlive(*self));
  ProcessIdentity other_start = *self;
  other_start.start_time += 1;
  EXPECT_FALSE(IsProcessAlive(other_start)) << "a reused pid must not look alive";

  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  auto id = IdentifyProcess(child);
  ASSERT_TRUE(id.ok()) << id.status();  // running or a zombie: found either way
  EXPECT_TRUE(WaitForProcessExit(*id, absl::Seconds(10)).ok());
  EXPECT_FALSE(IsProcessAlive(*id));
  // WaitForProcessExit reaped our own child.
  EXPECT_TRUE(absl::IsNotFound(IdentifyProcess(child).status()));
}

// conmon's -u is the id's first 32 characters: an id whose key a live
// container holds is never handed out, however the ids are drawn.
TEST(AttachKeyTest, NewIdsSkipAttachKeysInUse) {
  const std::string a(32, 'a'), b(32, 'b');
  std::vector<std::string> ids = {a + std::string(32, '1'), a + std::string(32, '2'),
                                  b + std::string(32, '3')};
  size_t drawn = 0;
  std::vector<std::string> asked;
  std::string id = NewIdWithFreeAttachKey([&] { return ids.at(drawn++); },
                                          [&](const std::string& key) {
                                            asked.push_back(key);
                                            return key == a;
                                          });
  EXPECT_EQ(id, ids[2]);
  EXPECT_EQ(drawn, 3u);
  EXPECT_EQ(asked, (std::vector<std::string>{a, a, b}));
  EXPECT_EQ(AttachKey(id), b);
}

}  // namespace
}  // namespace crius::oci
