// What a user of containers relies on across their life, through the real
// daemon (runc, conmon, overlay, cgroups, and the CNI plugins for the pod
// network test):
//  - logs: kubelet's rotation (rename, then ReopenContainerLog), lines
//    longer than conmon's buffer split into P records and an F record, a
//    last line without a newline;
//  - two containers of one pod talking over localhost on a real bridge, and
//    seeing the pod's IP and hostname;
//  - a criusd crash: a container that exits while criusd is down is EXITED
//    with its own code and time afterwards, a running one keeps its start
//    time, and lines logged meanwhile are in the file;
//  - ExecSync returning multi-MiB output whole;
//  - StopContainer sending the image's StopSignal, and SIGKILL after the
//    grace period to a container that ignores SIGTERM.
//
// Every test has its own daemon and pod; the fixture removes the pod (and
// with it the containers) even when a test fails halfway, restarting a
// daemon the test killed first.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "test/e2e/container_util.h"
#include "test/e2e/sandbox_util.h"

namespace crius::testing {
namespace {

// One record of a CRI log file: "<RFC3339Nano> <stream> <P|F> <text>".
struct LogRecord {
  absl::Time time;
  std::string stream;
  bool partial = false;
  std::string text;
};

// Parses every complete line (a trailing line conmon is still writing is
// left out). Malformed records fail the test with `where` in the message.
std::vector<LogRecord> ParseCriLog(const std::string& data, const std::string& where) {
  std::vector<LogRecord> out;
  const size_t end = data.rfind('\n');
  if (end == std::string::npos) return out;
  for (absl::string_view line : absl::StrSplit(absl::string_view(data).substr(0, end), '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits(' ', 3));
    if (f.size() < 3 || (f[2] != "P" && f[2] != "F") || (f[1] != "stdout" && f[1] != "stderr")) {
      ADD_FAILURE() << where << ": not a CRI log record: \"" << line.substr(0, 200) << "\"";
      continue;
    }
    LogRecord r;
    std::string err;
    // RFC3339Nano: a fractional second and an offset ("Z" or "+hh:mm").
    if (!absl::StrContains(f[0], ".") ||
        !absl::ParseTime("%Y-%m-%dT%H:%M:%E*S%Ez", std::string(f[0]), &r.time, &err)) {
      ADD_FAILURE() << where << ": bad timestamp \"" << f[0] << "\" " << err;
    }
    r.stream = std::string(f[1]);
    r.partial = f[2] == "P";
    if (f.size() == 4) r.text = std::string(f[3]);
    out.push_back(std::move(r));
  }
  return out;
}

// A line of the container's output put back together from its records.
struct LogLine {
  std::string text;
  int records = 0;
  bool complete = false;  // ended by an F record
};

std::vector<LogLine> JoinLines(const std::vector<LogRecord>& records, const std::string& stream) {
  std::vector<LogLine> out;
  bool open = false;
  for (const auto& r : records) {
    if (r.stream != stream) continue;
    if (!open) out.emplace_back();
    out.back().text += r.text;
    out.back().records++;
    out.back().complete = !r.partial;
    open = r.partial;
  }
  return out;
}

// The N of every "<prefix>N" stdout line, in file order.
std::vector<int> Numbered(const std::string& data, const std::string& prefix, const std::string& where) {
  std::vector<int> out;
  for (const auto& line : JoinLines(ParseCriLog(data, where), "stdout")) {
    int n;
    if (line.complete && absl::StartsWith(line.text, prefix) &&
        absl::SimpleAtoi(line.text.substr(prefix.size()), &n)) {
      out.push_back(n);
    }
  }
  return out;
}

// "" when `v` is first, first+1, ...; otherwise what breaks the run.
std::string Gap(const std::vector<int>& v, int first) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != first + static_cast<int>(i)) {
      return absl::StrCat("expected ", first + static_cast<int>(i), " at index ", i, ", found ", v[i]);
    }
  }
  return "";
}

std::string FileOrEmpty(const std::string& path) {
  auto text = ReadFile(path);
  return text.ok() ? *text : "";
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// A shell loop printing "<prefix>0", "<prefix>1", ... every 100 ms.
std::vector<std::string> Ticker(const std::string& prefix) {
  return {"/bin/sh", "-c",
          absl::StrCat("i=0; while true; do echo ", prefix, "$i; i=$((i+1)); sleep 0.1; done")};
}

class ContainerLifeE2E : public ContainerE2E {
 protected:
  void TearDown() override {
    // A test that killed criusd and failed before starting it again: a new
    // daemon on the same dirs recovers the containers, so removing the pod
    // still stops and removes them (and unmounts their rootfs).
    if (!pod_id_.empty() && !d_.Running()) {
      auto s = d_.Start();
      EXPECT_TRUE(s.ok()) << "restarting criusd to clean up: " << s;
    }
    ContainerE2E::TearDown();
  }

  std::string LogPath(const std::string& name) const {
    return pod_config_.log_directory() + "/" + name + ".log";
  }

  // Create + Start; "" (with a test failure) on error.
  std::string Run(const std::string& name, std::vector<std::string> cmd,
                  const std::function<void(runtime::v1::ContainerConfig&)>& edit = nullptr) {
    auto id = Create(name, std::move(cmd), edit);
    EXPECT_TRUE(id.ok()) << id.status() << d_.Log();
    if (!id.ok()) return "";
    auto s = Start(*id);
    EXPECT_TRUE(s.ok()) << s << d_.Log();
    return s.ok() ? *id : "";
  }

  // Waits until `name`'s log has a complete stdout line equal to `text`.
  bool WaitForLine(const std::string& name, const std::string& text) {
    return WaitUntil([&] {
      for (const auto& l : JoinLines(ParseCriLog(ReadLog(name), name), "stdout")) {
        if (l.complete && l.text == text) return true;
      }
      return false;
    });
  }

  absl::Status ReopenLog(const std::string& id) {
    runtime::v1::ReopenContainerLogRequest req;
    req.set_container_id(id);
    return d_.client().ReopenContainerLog(req).status();
  }

  absl::Status StopCtr(const std::string& id, int64_t timeout_s) {
    runtime::v1::StopContainerRequest req;
    req.set_container_id(id);
    req.set_timeout(timeout_s);
    return d_.client().StopContainer(req).status();
  }

  absl::Status RemoveCtr(const std::string& id) {
    runtime::v1::RemoveContainerRequest req;
    req.set_container_id(id);
    return d_.client().RemoveContainer(req).status();
  }

  // Builds another busybox image, pushes it as `repo`:v1 and pulls it.
  std::string PushAndPull(const std::string& repo, const std::function<void(ImageBuilder&)>& edit) {
    auto rootfs = BusyboxRootfs();
    EXPECT_TRUE(rootfs.ok()) << rootfs.status();
    if (!rootfs.ok()) return "";
    ImageBuilder builder;
    builder.AddLayer(*rootfs, Compression::kGzip).Cmd({"/bin/sh"});
    edit(builder);
    auto img = builder.Build();
    EXPECT_TRUE(img.ok()) << img.status();
    if (!img.ok()) return "";
    auto pushed = registry_->Push(*img, repo + ":v1");
    EXPECT_TRUE(pushed.ok()) << pushed.status();
    const std::string ref = registry_->host() + "/" + repo + ":v1";
    runtime::v1::PullImageRequest pull;
    pull.mutable_image()->set_image(ref);
    auto pulled = d_.client().PullImage(pull);
    EXPECT_TRUE(pulled.ok()) << pulled.status() << d_.Log();
    return pulled.ok() ? ref : "";
  }
};

// ---------------------------------------------------------------------------
// 1. Logs.

TEST_F(ContainerLifeE2E, ReopenContainerLogAfterRotationSendsNewLinesToANewFile) {
  const absl::Time start = absl::Now();
  const std::string id = Run("ticker", Ticker("tick-"));
  ASSERT_FALSE(id.empty());
  const std::string log = LogPath("ticker");
  ASSERT_TRUE(WaitUntil([&] { return Numbered(FileOrEmpty(log), "tick-", log).size() >= 3; }))
      << FileOrEmpty(log);

  // kubelet's rotation: rename the live file away, then ask for a new one.
  const std::string rotated = log + ".20260101-000000";
  ASSERT_EQ(std::rename(log.c_str(), rotated.c_str()), 0);
  ASSERT_TRUE(ReopenLog(id).ok()) << d_.Log();
  // kubelet reads and rotates the path right after the call: it must exist.
  EXPECT_TRUE(PathExists(log)) << "ReopenContainerLog returned before the new log file existed";

  ASSERT_TRUE(WaitUntil([&] { return Numbered(FileOrEmpty(log), "tick-", log).size() >= 3; }))
      << FileOrEmpty(log);
  // conmon switched files before writing the first line into the new one,
  // so the rotated file is final by now.
  const std::string old_text = FileOrEmpty(rotated);
  const std::string new_text = FileOrEmpty(log);
  const std::vector<int> old_n = Numbered(old_text, "tick-", rotated);
  const std::vector<int> new_n = Numbered(new_text, "tick-", log);
  ASSERT_GE(old_n.size(), 3u) << old_text;
  ASSERT_FALSE(new_n.empty());
  EXPECT_EQ(Gap(old_n, 0), "") << "the rotated file keeps the earlier lines:\n" << old_text;
  // No line is lost or repeated at the switch.
  EXPECT_EQ(Gap(new_n, old_n.back() + 1), "") << "old:\n" << old_text << "new:\n" << new_text;
  for (const auto& r : ParseCriLog(new_text, log)) {
    EXPECT_EQ(r.stream, "stdout");
    EXPECT_FALSE(r.partial) << r.text;
    EXPECT_GE(r.time, start - absl::Minutes(1)) << r.text;
    EXPECT_LE(r.time, absl::Now() + absl::Minutes(1)) << r.text;
  }
  ASSERT_TRUE(WaitUntil([&] { return Numbered(FileOrEmpty(log), "tick-", log).size() > new_n.size(); }));
  EXPECT_EQ(FileOrEmpty(rotated), old_text) << "the rotated file grew after the reopen";

  // A second rotation works the same way.
  const std::string rotated2 = log + ".20260101-000001";
  ASSERT_EQ(std::rename(log.c_str(), rotated2.c_str()), 0);
  ASSERT_TRUE(ReopenLog(id).ok()) << d_.Log();
  EXPECT_TRUE(PathExists(log));
  ASSERT_TRUE(WaitUntil([&] { return !Numbered(FileOrEmpty(log), "tick-", log).empty(); }));
  const std::vector<int> second = Numbered(FileOrEmpty(rotated2), "tick-", rotated2);
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(Numbered(FileOrEmpty(log), "tick-", log).front(), second.back() + 1);

  // Nothing holds the log of a container that is not running: like CRI-O
  // and containerd, reopening it is an error (FAILED_PRECONDITION here),
  // and then, as the CRI asks, no new log file may appear.
  ASSERT_TRUE(StopCtr(id, 0).ok()) << d_.Log();
  WaitFor(id, runtime::v1::CONTAINER_EXITED);
  ASSERT_EQ(std::rename(log.c_str(), (log + ".20260101-000002").c_str()), 0);
  EXPECT_EQ(ReopenLog(id).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(PathExists(log)) << "a failed ReopenContainerLog created a log file";
  auto created = Create("never-started", {"/bin/true"});
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(ReopenLog(*created).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReopenLog("0123456789abcdef0123").code(), absl::StatusCode::kNotFound);
}

TEST_F(ContainerLifeE2E, LinesLongerThanConmonsBufferArePartialRecordsThatJoinBack) {
  // 100 KiB of a-z without a newline, a newline, a short line, and a last
  // line the process never ends before exiting.
  constexpr int kLong = 100 * 1024;
  const std::string id = Run("long", {"/bin/sh", "-c",
                                      absl::StrCat("awk 'BEGIN { for (i = 0; i < ", kLong,
                                                   "; i++) printf \"%c\", 97 + i % 26; printf \"\\n\" }'; "
                                                   "echo short; echo err-line >&2; printf tail-no-newline")});
  ASSERT_FALSE(id.empty());
  auto st = WaitFor(id, runtime::v1::CONTAINER_EXITED);
  EXPECT_EQ(st.exit_code(), 0);

  std::string expected;
  for (int i = 0; i < kLong; ++i) expected.push_back(static_cast<char>('a' + i % 26));
  const std::string data = ReadLog("long");
  ASSERT_TRUE(absl::EndsWith(data, "\n")) << "every record ends with a newline";
  const std::vector<LogRecord> records = ParseCriLog(data, "long.log");
  const std::vector<LogLine> out = JoinLines(records, "stdout");
  ASSERT_EQ(out.size(), 3u) << data.substr(0, 500);
  EXPECT_TRUE(out[0].complete);
  EXPECT_GT(out[0].records, 1) << "a 100 KiB line is split into P records before its F record";
  EXPECT_EQ(out[0].text.size(), expected.size());
  EXPECT_TRUE(out[0].text == expected) << "the parts join back into the exact line";
  EXPECT_TRUE(out[1].complete);
  EXPECT_EQ(out[1].text, "short");
  // The last output is kept even without its newline, marked partial.
  EXPECT_EQ(out[2].text, "tail-no-newline");
  EXPECT_FALSE(out[2].complete);
  const std::vector<LogLine> err = JoinLines(records, "stderr");
  ASSERT_EQ(err.size(), 1u);
  EXPECT_EQ(err[0].text, "err-line");
  EXPECT_TRUE(err[0].complete);
}

// ---------------------------------------------------------------------------
// 2. Two containers of a pod on a real CNI bridge.

class PodNetworkLifeE2E : public ContainerLifeE2E {
 protected:
  void SetUp() override {
    if (!CanRunPodNetworkTests()) GTEST_SKIP() << "needs root, the CNI plugins, ip and nsenter";
    ASSERT_TRUE(net_.subnet().ok());
    ContainerLifeE2E::SetUp();
  }
  void EditPod(runtime::v1::PodSandboxConfig& c) override {
    c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(runtime::v1::POD);
    c.set_hostname(hostname_);
    // The conflist was written before the daemon started; RunPodSandbox
    // (right after this) needs the daemon to have loaded it.
    EXPECT_TRUE(WaitNetworkReady(d_.client())) << d_.Log();
  }

  const std::string hostname_ = "life-" + RandomHex(8);
  // Written into the daemon's CNI conf dir before SetUp starts the daemon;
  // destroyed (the bridge deleted) after TearDown removed the pod.
  BridgeNetwork net_{d_};
};

TEST_F(PodNetworkLifeE2E, ContainersOfAPodTalkOverLocalhostAndSeeThePodIpAndHostname) {
  const std::string token = "served-by-a-" + RandomHex(12);
  // The server listens on 127.0.0.1 only: B reaches it only through the
  // loopback of the network namespace the two containers share.
  const std::string a =
      Run("server", {"/bin/sh", "-c",
                     absl::StrCat("mkdir -p /tmp/www && echo ", token,
                                  " > /tmp/www/index.html && exec /bin/busybox httpd -f -p 127.0.0.1:8080 "
                                  "-h /tmp/www")});
  ASSERT_FALSE(a.empty());
  WaitFor(a, runtime::v1::CONTAINER_RUNNING);
  // B retries (bounded) until A's server is up, prints the page and exits.
  const std::string b =
      Run("client", {"/bin/sh", "-c",
                     "for i in $(seq 1 200); do "
                     "if wget -q -O - http://127.0.0.1:8080/index.html; then exit 0; fi; sleep 0.1; "
                     "done; exit 1"});
  ASSERT_FALSE(b.empty());
  auto bs = WaitFor(b, runtime::v1::CONTAINER_EXITED);
  EXPECT_EQ(bs.exit_code(), 0) << ReadLog("client");
  EXPECT_TRUE(WaitForLine("client", token)) << ReadLog("client");

  runtime::v1::PodSandboxStatusRequest preq;
  preq.set_pod_sandbox_id(pod_id_);
  auto pod = d_.client().PodSandboxStatus(preq);
  ASSERT_TRUE(pod.ok()) << pod.status();
  const std::string ip = pod->status().network().ip();
  ASSERT_TRUE(absl::StartsWith(ip, net_.subnet().prefix())) << ip;

  auto addr = Exec(a, {"/bin/busybox", "ip", "-4", "-o", "addr", "show", "dev", "eth0"});
  EXPECT_EQ(addr.exit_code(), 0) << addr.stderr();
  EXPECT_TRUE(absl::StrContains(addr.stdout(), " inet " + ip + "/24 ")) << addr.stdout();
  auto fib = Exec(a, {"/bin/cat", "/proc/net/fib_trie"});
  EXPECT_TRUE(absl::StrContains(fib.stdout(), ip)) << fib.stdout();

  auto etc = Exec(a, {"/bin/cat", "/etc/hostname"});
  EXPECT_EQ(etc.stdout(), hostname_ + "\n");
  auto host = Exec(a, {"/bin/hostname"});
  EXPECT_EQ(host.stdout(), hostname_ + "\n");
}

// ---------------------------------------------------------------------------
// 3. A criusd crash while containers run, exit and log.

TEST_F(ContainerLifeE2E, ContainersThatExitAndLogWhileCriusdIsDownAreSeenAfterItsRestart) {
  const std::string trigger = d_.dir() + "/trigger-" + RandomHex(8);
  ASSERT_TRUE(MkdirAll(trigger).ok());
  const std::string exiter =
      Run("exiter",
          {"/bin/sh", "-c",
           "echo waiting; while [ ! -e /trigger/go ]; do sleep 0.05; done; echo leaving; exit 5"},
          [&](runtime::v1::ContainerConfig& c) {
            auto* m = c.add_mounts();
            m->set_container_path("/trigger");
            m->set_host_path(trigger);
            m->set_readonly(true);
          });
  ASSERT_FALSE(exiter.empty());
  // The writer ends on SIGTERM with code 0, to show that Stop after the
  // restart sends it the right signal.
  const std::string writer = Run("writer", {"/bin/sh", "-c",
                                            "trap 'echo term; exit 0' TERM; i=0; "
                                            "while true; do echo w-$i; i=$((i+1)); sleep 0.1; done"});
  ASSERT_FALSE(writer.empty());
  ASSERT_TRUE(WaitForLine("exiter", "waiting")) << ReadLog("exiter");
  ASSERT_TRUE(WaitForLine("writer", "w-2")) << ReadLog("writer");
  auto before = Status(writer);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->state(), runtime::v1::CONTAINER_RUNNING);

  ASSERT_TRUE(d_.Kill().ok());
  const absl::Time killed = absl::Now();
  const std::vector<int> seen = Numbered(ReadLog("writer"), "w-", "writer");
  ASSERT_FALSE(seen.empty());
  const int written_before = seen.back();
  WriteTestFile(trigger + "/go", "");
  // conmon writes the exit file once it has reaped the container.
  const std::string exit_file = d_.state_dir() + "/exits/" + exiter;
  ASSERT_TRUE(WaitUntil([&] { return PathExists(exit_file); })) << ReadLog("exiter");
  ASSERT_TRUE(WaitUntil([&] {
    auto n = Numbered(ReadLog("writer"), "w-", "writer");
    return !n.empty() && n.back() >= written_before + 5;
  }));
  const int written_while_down = Numbered(ReadLog("writer"), "w-", "writer").back();

  const absl::Time restarted = absl::Now();
  ASSERT_TRUE(d_.Start().ok()) << d_.Log();

  auto w = Status(writer);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->state(), runtime::v1::CONTAINER_RUNNING);
  EXPECT_EQ(w->started_at(), before->started_at());
  EXPECT_EQ(w->finished_at(), 0);

  auto e = Status(exiter);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->state(), runtime::v1::CONTAINER_EXITED);
  EXPECT_EQ(e->exit_code(), 5);
  EXPECT_EQ(e->reason(), "Error");
  // The time it really ended (while criusd was down), not the restart's.
  EXPECT_GE(absl::FromUnixNanos(e->finished_at()), killed - absl::Seconds(1));
  EXPECT_LE(absl::FromUnixNanos(e->finished_at()), restarted);
  EXPECT_GT(e->started_at(), 0);
  EXPECT_LE(e->started_at(), e->finished_at());
  EXPECT_TRUE(WaitForLine("exiter", "leaving")) << ReadLog("exiter");

  const std::vector<int> lines = Numbered(ReadLog("writer"), "w-", "writer");
  EXPECT_EQ(Gap(lines, 0), "") << ReadLog("writer");
  EXPECT_GE(lines.back(), written_while_down);

  // The restarted daemon still drives both.
  auto exec = Exec(writer, {"/bin/echo", "alive"});
  EXPECT_EQ(exec.stdout(), "alive\n");
  ASSERT_TRUE(StopCtr(writer, 30).ok()) << d_.Log();
  auto ws = WaitFor(writer, runtime::v1::CONTAINER_EXITED);
  EXPECT_EQ(ws.exit_code(), 0) << "the writer ends on SIGTERM with 0";
  EXPECT_EQ(ws.started_at(), before->started_at());
  EXPECT_TRUE(WaitForLine("writer", "term")) << ReadLog("writer");
  ASSERT_TRUE(RemoveCtr(writer).ok()) << d_.Log();
  ASSERT_TRUE(RemoveCtr(exiter).ok()) << d_.Log();
  EXPECT_EQ(Status(writer).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Status(exiter).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(PathExists(exit_file)) << "removal cleans conmon's exit file";
  runtime::v1::ListContainersRequest list;
  list.mutable_filter()->set_pod_sandbox_id(pod_id_);
  auto listed = d_.client().ListContainers(list);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->containers_size(), 0);
  // The names are free again.
  auto again = Create("exiter", {"/bin/true"});
  EXPECT_TRUE(again.ok()) << again.status();
}

// ---------------------------------------------------------------------------
// 4. ExecSync output.

TEST_F(ContainerLifeE2E, ExecSyncReturnsThreeMebibytesOfStdoutWhole) {
  const std::string id = Run("big-exec", {"/bin/sleep", "1000"});
  ASSERT_FALSE(id.empty());
  WaitFor(id, runtime::v1::CONTAINER_RUNNING);
  constexpr size_t kSize = size_t{3} << 20;
  auto res = Exec(id, {"/bin/sh", "-c", absl::StrCat("yes 0123456789abcdef | head -c ", kSize)});
  EXPECT_EQ(res.exit_code(), 0) << res.stderr();
  std::string expected;
  while (expected.size() < kSize) expected += "0123456789abcdef\n";
  expected.resize(kSize);
  EXPECT_EQ(res.stdout().size(), kSize);
  EXPECT_TRUE(res.stdout() == expected) << "3 MiB of stdout come back byte for byte";
  EXPECT_EQ(res.stderr(), "");
}

// ---------------------------------------------------------------------------
// 5. StopContainer and signals.

TEST_F(ContainerLifeE2E, StopContainerSendsTheImagesStopSignal) {
  const std::string usr1_image =
      PushAndPull("e2e/busybox-usr1", [](ImageBuilder& b) { b.StopSignal("SIGUSR1"); });
  ASSERT_FALSE(usr1_image.empty());
  const std::string id =
      Run("usr1",
          {"/bin/sh", "-c",
           "trap 'echo got-usr1; exit 0' USR1; trap 'echo got-term; exit 9' TERM; "
           "echo ready; while true; do sleep 0.1; done"},
          [&](runtime::v1::ContainerConfig& c) { c.mutable_image()->set_image(usr1_image); });
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(WaitForLine("usr1", "ready")) << ReadLog("usr1");
  ASSERT_TRUE(StopCtr(id, 30).ok()) << d_.Log();
  auto st = WaitFor(id, runtime::v1::CONTAINER_EXITED);
  EXPECT_EQ(st.exit_code(), 0) << ReadLog("usr1");
  EXPECT_EQ(st.reason(), "Completed");
  EXPECT_TRUE(WaitForLine("usr1", "got-usr1")) << ReadLog("usr1");
}

TEST_F(ContainerLifeE2E, StopContainerKillsAContainerIgnoringSigtermAfterTheTimeout) {
  const std::string id =
      Run("stubborn", {"/bin/sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"});
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(WaitForLine("stubborn", "ready")) << ReadLog("stubborn");
  const absl::Time start = absl::Now();
  ASSERT_TRUE(StopCtr(id, 2).ok()) << d_.Log();
  const absl::Duration took = absl::Now() - start;
  auto st = Status(id);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->state(), runtime::v1::CONTAINER_EXITED) << "StopContainer returns once it has stopped";
  EXPECT_EQ(st->exit_code(), 137);
  EXPECT_EQ(st->reason(), "Error");
  // The container had its whole grace period before the SIGKILL.
  EXPECT_GE(took, absl::Seconds(2) - absl::Milliseconds(50));
}

}  // namespace
}  // namespace crius::testing
