// /metrics against a real criusd with a running pod on a CNI bridge: the
// scrape passes `promtool check metrics`, carries the runtime and
// per-container series (label values for the oddest name the validation
// layer lets through: dots, dashes, underscores), and a
// real Prometheus server scrapes it and answers queries over them.

#include <signal.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "common/exec.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"
#include "test/e2e/container_util.h"
#include "test/e2e/events_util.h"
#include "test/e2e/sandbox_util.h"

namespace crius::testing {
namespace {

namespace v1 = runtime::v1;

// Quotes, a backslash and a space: all must survive the text format and
// PromQL intact.
// Quotes and backslashes never reach a label: pod names are refused at the
// edge unless they hold only letters, digits, '.', '-' and '_'.
const char kOddPodName[] = "odd.pod_name-1";

std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += absl::StrFormat("%%%02X", c);
    }
  }
  return out;
}

// A PromQL string literal.
std::string PromQuote(const std::string& s) {
  return "\"" + absl::StrReplaceAll(s, {{"\\", "\\\\"}, {"\"", "\\\""}}) + "\"";
}

class MetricsE2E : public ContainerE2E {
 protected:
  void SetUp() override {
    if (!CanRunPodNetworkTests()) GTEST_SKIP() << "needs root, the CNI plugins, ip and nsenter";
    ASSERT_TRUE(net_.subnet().ok());
    ContainerE2E::SetUp();
  }
  void BeforeDaemonStart() override {
    auto port = PickFreePort();
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
    WriteTestFile(d_.config_dir() + "/10-metrics.yaml",
                  absl::StrCat("metrics:\n  enabled: true\n  address: 127.0.0.1:", port_, "\n"));
  }
  void EditPod(v1::PodSandboxConfig& c) override {
    c.mutable_metadata()->set_name(kOddPodName);
    c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(v1::POD);
    c.mutable_linux()->set_cgroup_parent(cgroups_.PodParent(c.metadata().uid()));
    EXPECT_TRUE(WaitNetworkReady(d_.client())) << d_.Log();
  }

  std::string RunBurner() {
    auto id = Create("burner", {"/bin/sh", "-c", "while :; do :; done"});
    EXPECT_TRUE(id.ok()) << id.status() << d_.Log();
    if (!id.ok()) return "";
    EXPECT_TRUE(Start(*id).ok()) << d_.Log();
    WaitFor(*id, v1::CONTAINER_RUNNING);
    return *id;
  }

  int port_ = 0;
  TestCgroupRoot cgroups_;
  BridgeNetwork net_{d_};
};

TEST_F(MetricsE2E, ScrapeWhilePodsRunPassesPromtoolAndCarriesEverySeries) {
  const std::string id = RunBurner();
  ASSERT_FALSE(id.empty());
  std::string body;
  // The writable-layer walk runs in the background: wait for its first figure.
  ASSERT_TRUE(WaitUntil([&] {
    body = Scrape(port_);
    return absl::StrContains(body, "container_fs_usage_bytes{");
  })) << body;

  ExecOptions promtool;
  promtool.argv = {"/usr/bin/promtool", "check", "metrics"};
  promtool.stdin_data = body;
  auto check = crius::Exec(promtool);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->exit_code, 0) << check->stdout_data << check->stderr_data;
  EXPECT_EQ(check->stdout_data + check->stderr_data, "") << "promtool found problems";

  const std::string labels =
      absl::StrCat("{container=\"burner\",id=\"", id, "\",image=\"", image_, "\",name=\"", id,
                   "\",namespace=\"e2e\",pod=\"", kOddPodName, "\"}");
  for (const char* series :
       {"container_cpu_usage_seconds_total", "container_memory_working_set_bytes", "container_memory_rss",
        "container_memory_usage_bytes", "container_spec_memory_limit_bytes", "container_oom_events_total",
        "container_processes", "container_start_time_seconds", "container_fs_usage_bytes"}) {
    EXPECT_GE(MetricValue(body, series + labels), 0) << series << labels << "\n" << body;
  }
  EXPECT_GE(MetricValue(body, "container_processes" + labels), 1);
  EXPECT_TRUE(absl::StrContains(body, "container_network_receive_bytes_total{container=\"POD\",id=\"" + pod_id_ +
                                          "\",image=\"\",interface=\"eth0\""))
      << body;
  EXPECT_TRUE(absl::StrContains(body, "container_network_transmit_bytes_total{container=\"POD\"")) << body;

  EXPECT_EQ(MetricValue(body, "crius_containers{state=\"running\"}"), 1);
  EXPECT_EQ(MetricValue(body, "crius_pod_sandboxes{state=\"ready\"}"), 1);
  EXPECT_EQ(MetricValue(body, "crius_image_pulls_total{result=\"success\"}"), 1);
  EXPECT_GT(MetricValue(body, "crius_image_pull_bytes_total"), 0);
  EXPECT_EQ(MetricValue(body, "crius_image_pull_duration_seconds_count"), 1);
  for (const char* step : {"cgroup", "namespaces", "cni_add", "files"}) {
    EXPECT_EQ(MetricValue(body, absl::StrCat("crius_pod_start_step_duration_seconds_count{step=\"", step, "\"}")), 1)
        << step;
  }
  for (const char* step : {"rootfs", "spec", "runtime_create", "runtime_start"}) {
    EXPECT_EQ(
        MetricValue(body, absl::StrCat("crius_container_start_step_duration_seconds_count{step=\"", step, "\"}")), 1)
        << step;
  }
  EXPECT_GE(MetricValue(body, "crius_cni_plugin_duration_seconds_count{command=\"ADD\",plugin=\"bridge\"}"), 1)
      << body;
  EXPECT_EQ(MetricValue(body, "crius_cni_plugin_errors_total{command=\"ADD\",plugin=\"bridge\"}"), 0);
  EXPECT_EQ(MetricValue(body, "crius_oom_kills_total"), 0);
  EXPECT_EQ(MetricValue(body, "crius_events_dropped_total"), 0);
  EXPECT_GE(MetricValue(body, "crius_recovery_duration_seconds"), 0);
  EXPECT_GT(MetricValue(body, "process_resident_memory_bytes"), 0);
  EXPECT_GT(MetricValue(body, "process_open_fds"), 0);
  EXPECT_GE(MetricValue(body, "process_cpu_seconds_total"), 0);
  EXPECT_GT(MetricValue(body, "process_start_time_seconds"), 0);
}

// A Prometheus server of the test's own on a free loopback port, with a
// temporary TSDB; started and ended by PID.
class PrometheusServer {
 public:
  absl::Status Start(const std::string& dir, int target_port) {
    auto port = PickFreePort();
    if (!port.ok()) return port.status();
    port_ = *port;
    const std::string config = dir + "/prometheus.yml";
    WriteTestFile(config, absl::StrCat("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                                       "scrape_configs:\n  - job_name: crius\n    static_configs:\n"
                                       "      - targets: ['127.0.0.1:",
                                       target_port, "']\n"));
    SubprocessOptions o;
    o.argv = {"/usr/bin/prometheus", "--config.file=" + config, "--storage.tsdb.path=" + dir + "/tsdb",
              absl::StrCat("--web.listen-address=127.0.0.1:", port_), "--log.level=warn"};
    o.env = {"PATH=/usr/bin:/bin", "HOME=" + dir};
    o.cwd = dir;
    o.stdout_path = dir + "/prometheus.log";
    o.stderr_path = dir + "/prometheus.log";
    auto p = Subprocess::Start(o);
    if (!p.ok()) return p.status();
    process_ = std::make_unique<Subprocess>(std::move(*p));
    log_ = dir + "/prometheus.log";
    return absl::OkStatus();
  }
  ~PrometheusServer() {
    if (process_ == nullptr) return;
    (void)process_->Signal(SIGTERM);
    if (!process_->Wait(absl::Seconds(20)).ok()) (void)process_->Signal(SIGKILL);
    (void)process_->Wait(absl::Seconds(20));
  }

  // The value of the first sample `query` returns, or nullopt.
  std::optional<double> Query(const std::string& query) {
    auto resp = HttpGet("127.0.0.1", port_, "/api/v1/query?query=" + UrlEncode(query));
    if (!resp.ok()) return std::nullopt;
    auto at = resp->find("\r\n\r\n");
    if (at == std::string::npos) return std::nullopt;
    auto j = nlohmann::json::parse(resp->substr(at + 4), nullptr, false);
    if (j.is_discarded() || j.value("status", "") != "success") return std::nullopt;
    const auto& result = j["data"]["result"];
    if (!result.is_array() || result.empty()) return std::nullopt;
    double v = 0;
    if (!absl::SimpleAtod(result[0]["value"][1].get<std::string>(), &v)) return std::nullopt;
    return v;
  }
  std::string Log() const {
    auto t = ReadFile(log_);
    return t.ok() ? *t : "";
  }

 private:
  int port_ = 0;
  std::string log_;
  std::unique_ptr<Subprocess> process_;
};

TEST_F(MetricsE2E, RealPrometheusScrapesContainerAndRuntimeSeries) {
  if (::access("/usr/bin/prometheus", X_OK) != 0) GTEST_SKIP() << "needs Debian's prometheus package";
  const std::string id = RunBurner();
  ASSERT_FALSE(id.empty());
  TempDir dir("crius-prometheus-");
  PrometheusServer prom;
  ASSERT_TRUE(prom.Start(dir.path(), port_).ok());
  const std::string cpu_query = absl::StrCat("container_cpu_usage_seconds_total{container=\"burner\",pod=",
                                             PromQuote(kOddPodName), ",namespace=\"e2e\"}");
  std::optional<double> cpu;
  EXPECT_TRUE(WaitUntil(
      [&] {
        cpu = prom.Query(cpu_query);
        return cpu.has_value() && *cpu > 0;
      },
      absl::Seconds(90)))
      << cpu_query << " never above 0\n" << prom.Log();
  std::optional<double> steps;
  EXPECT_TRUE(WaitUntil(
      [&] {
        steps = prom.Query("crius_pod_start_step_duration_seconds_count{step=\"cni_add\"}");
        return steps.has_value() && *steps >= 1;
      },
      absl::Seconds(30)))
      << prom.Log();
}

}  // namespace
}  // namespace crius::testing
