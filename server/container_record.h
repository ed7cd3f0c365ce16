#pragma once
// A container as criusd keeps it: in memory for List/Status, and one JSON
// file per container under <root>/containers so it survives a restart.
//
// State machine:
//
//   CreateContainer ──▶ CREATED ──StartContainer──▶ RUNNING ──(exit file)──▶ EXITED
//                          │                                                   ▲
//                          └──────────────(exit before start / stop)───────────┘
//   RemoveContainer removes it from any state (stopping it first).
//   UNKNOWN: recovery found neither a live process nor an exit code.
//
// Durability (common/files.h Durability): the intent record (`creating`) is
// kProcessCrash: what a create makes is the bundle and runtime state
// (volatile state dir), conmon and the container (gone at a reboot) and the
// rootfs (kept under <root>), and recovery removes a rootfs whose record
// the disk lost. The CREATED record and every change after it are durable,
// except `runtime_deleted` (a lost one only repeats a harmless delete).

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "api/api.pb.h"
#include "nlohmann/json.hpp"
#include "oci/monitor.h"

namespace crius::server {

struct ContainerRecord {
  std::string id;
  std::string sandbox_id;
  runtime::v1::ContainerConfig config;
  std::string image_name;  // as the request named it
  std::string image_id;    // sha256:<config digest>
  std::string runtime_handler;

  runtime::v1::ContainerState state = runtime::v1::CONTAINER_CREATED;
  int64_t created_at_ns = 0;
  int64_t started_at_ns = 0;
  int64_t finished_at_ns = 0;
  int32_t exit_code = 0;
  std::string reason;
  std::string message;

  pid_t pid = 0;                  // the container's init process
  oci::ProcessIdentity conmon;    // the monitor that holds its stdio
  std::string bundle;             // <state>/containers/<id>
  std::string log_path;           // absolute CRI log path, or empty
  std::string termination_log;    // host file behind /dev/termination-log
  std::string cgroups_path;       // linux.cgroupsPath of the spec
  int stop_signal = 15;
  std::string process_json;       // the spec's process, the template for exec
  runtime::v1::ContainerResources resources;  // as last applied
  // An intent record, written before CreateContainer makes anything: if
  // criusd dies inside the create, recovery undoes what the id, bundle and
  // handler name (kubelet never got the id, so nobody else will).
  bool creating = false;
  // The runtime's state of an exited container is already deleted (done in
  // the background after the exit, so RemoveContainer need not run it).
  bool runtime_deleted = false;

  std::string ReservationName(const runtime::v1::PodSandboxMetadata& pod) const;
};

// The OCI process an exec runs (ExecSync and streaming Exec alike): the
// container's own process (env, cwd, user, capabilities...) with `cmd` as
// its args and no terminal. Internal when the stored process does not parse.
absl::StatusOr<nlohmann::json> ExecProcessFor(const ContainerRecord& record,
                                              const std::vector<std::string>& cmd);

absl::StatusOr<std::string> ContainerToJson(const ContainerRecord& record);
absl::StatusOr<ContainerRecord> ContainerFromJson(const std::string& json);

}  // namespace crius::server
