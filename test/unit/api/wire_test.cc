// Wire-format checks for api/api.proto.
//
// Each expected byte string below was worked out by hand from the protobuf
// encoding rules (tag = field_number << 3 | wire_type; wire type 0 = varint,
// 1 = 64-bit, 2 = length-delimited), not produced by the library under test.
// A wrong field number, a wrong scalar type or a wrong nesting in api.proto
// therefore shows up as a byte mismatch. The descriptor checks pin the
// service surface (41 RPCs, which of them stream) and a few names whose odd
// spelling is part of the wire contract.

// <csignal> deliberately comes first: the CRI Signal enum has values named
// like libc's signal macros, and api.pb.h must still parse after it.
#include <csignal>

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include "api/api.grpc.pb.h"
#include "api/api.pb.h"

// The generated header hides these macros only while it is being read.
#if !defined(SIGTERM) || !defined(SIGRTMAX)
#error "api.pb.h must restore the libc signal macros"
#endif

namespace {

namespace pb = google::protobuf;
namespace rt = runtime::v1;

// Builds a byte string from a list of byte values.
std::string Bytes(std::initializer_list<int> values) {
  std::string out;
  out.reserve(values.size());
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

// Serializes deterministically so map entries come out in a fixed order.
std::string Wire(const pb::Message& msg) {
  std::string out;
  pb::io::StringOutputStream raw(&out);
  {
    pb::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    EXPECT_TRUE(msg.SerializeToCodedStream(&coded));
  }
  return out;
}

// Renders bytes as hex so a mismatch is readable in the test log.
std::string Hex(const std::string& s) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (!out.empty()) out.push_back(' ');
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

#define EXPECT_WIRE(msg, expected) EXPECT_EQ(Hex(Wire(msg)), Hex(expected))

TEST(ApiWire, VersionRequest) {
  rt::VersionRequest req;
  req.set_version("0.1.0");
  // field 1, LEN: 0x0a, length 5, then the text.
  EXPECT_WIRE(req, Bytes({0x0a, 0x05, '0', '.', '1', '.', '0'}));
}

TEST(ApiWire, VersionResponseAllFields) {
  rt::VersionResponse resp;
  resp.set_version("v");
  resp.set_runtime_name("n");
  resp.set_runtime_version("r");
  resp.set_runtime_api_version("a");
  EXPECT_WIRE(resp, Bytes({0x0a, 0x01, 'v', 0x12, 0x01, 'n', 0x1a, 0x01, 'r',
                           0x22, 0x01, 'a'}));
}

TEST(ApiWire, PodSandboxMetadata) {
  rt::PodSandboxMetadata md;
  md.set_name("nginx");
  md.set_uid("u1");
  md.set_namespace_("default");
  md.set_attempt(3);
  EXPECT_WIRE(md, Bytes({0x0a, 0x05, 'n', 'g', 'i', 'n', 'x',            //
                         0x12, 0x02, 'u', '1',                           //
                         0x1a, 0x07, 'd', 'e', 'f', 'a', 'u', 'l', 't',  //
                         0x20, 0x03}));  // field 4, varint (uint32)
}

TEST(ApiWire, ContainerFilterWithLabelSelector) {
  rt::ContainerFilter f;
  f.set_id("c1");
  f.mutable_state()->set_state(rt::CONTAINER_RUNNING);
  f.set_pod_sandbox_id("p1");
  (*f.mutable_label_selector())["app"] = "web";
  EXPECT_WIRE(f, Bytes({0x0a, 0x02, 'c', '1',
                        // field 2: ContainerStateValue{state = 1}
                        0x12, 0x02, 0x08, 0x01,
                        0x1a, 0x02, 'p', '1',
                        // field 4: one map entry {key = 1, value = 2}
                        0x22, 0x0a, 0x0a, 0x03, 'a', 'p', 'p', 0x12, 0x03, 'w',
                        'e', 'b'}));
}

TEST(ApiWire, ImageSpecWithAnnotationsAndHighFields) {
  rt::ImageSpec spec;
  spec.set_image("busybox");
  (*spec.mutable_annotations())["k"] = "v";
  spec.set_user_specified_image("bb");
  spec.set_runtime_handler("runc");
  spec.set_image_ref("sha256:ab");
  EXPECT_WIRE(spec,
              Bytes({0x0a, 0x07, 'b', 'u', 's', 'y', 'b', 'o', 'x',
                     // field 2: map entry {k: v}
                     0x12, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, 'v',
                     // field 18: (18 << 3 | 2) = 146 -> varint 0x92 0x01
                     0x92, 0x01, 0x02, 'b', 'b',
                     // field 19: 154 -> 0x9a 0x01
                     0x9a, 0x01, 0x04, 'r', 'u', 'n', 'c',
                     // field 20: 162 -> 0xa2 0x01
                     0xa2, 0x01, 0x09, 's', 'h', 'a', '2', '5', '6', ':', 'a',
                     'b'}));
}

TEST(ApiWire, RunPodSandboxRequestWithRuntimeHandler) {
  rt::RunPodSandboxRequest req;
  req.mutable_config()->mutable_metadata()->set_name("p");
  req.set_runtime_handler("kata");
  EXPECT_WIRE(req, Bytes({// config{metadata{name}}: three nested LEN fields
                          0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 'p',
                          // field 2: runtime_handler
                          0x12, 0x04, 'k', 'a', 't', 'a'}));
}

TEST(ApiWire, LinuxContainerSecurityContextHighNumbers) {
  rt::LinuxContainerSecurityContext sc;
  sc.add_supplemental_groups(1);
  sc.add_supplemental_groups(2);
  sc.mutable_run_as_group()->set_value(1000);
  sc.set_supplemental_groups_policy(rt::Strict);
  EXPECT_WIRE(sc, Bytes({// field 8: packed repeated int64
                         0x42, 0x02, 0x01, 0x02,
                         // field 12: Int64Value{1000}; 1000 = 0xe8 0x07
                         0x62, 0x03, 0x08, 0xe8, 0x07,
                         // field 17 varint: 136 -> 0x88 0x01, value 1
                         0x88, 0x01, 0x01}));
}

TEST(ApiWire, ContainerStatusStopSignal) {
  rt::ContainerStatus st;
  st.set_exit_code(-1);
  // rt::SIGTERM cannot be spelled where <csignal> is visible (the macro
  // wins), so code names Signal values through Signal_Parse or numbers.
  rt::Signal term = rt::RUNTIME_DEFAULT;
  ASSERT_TRUE(rt::Signal_Parse("SIGTERM", &term));
  st.set_stop_signal(term);
  EXPECT_WIRE(st, Bytes({// field 7 int32 -1: sign-extended 10-byte varint
                         0x38, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                         0xff, 0x01,
                         // field 19 varint: 152 -> 0x98 0x01; SIGTERM = 23
                         0x98, 0x01, 0x17}));
}

TEST(ApiWire, MountIdMappingsAndSubPath) {
  rt::Mount m;
  m.set_container_path("/d");
  auto* map = m.add_uidmappings();
  map->set_host_id(100000);
  map->set_length(65536);
  m.set_image_sub_path("sub");
  EXPECT_WIRE(m, Bytes({0x0a, 0x02, '/', 'd',
                        // field 6: IDMapping{host_id=100000, length=65536}
                        // 100000 -> a0 8d 06; 65536 -> 80 80 04
                        0x32, 0x08, 0x08, 0xa0, 0x8d, 0x06, 0x18, 0x80, 0x80,
                        0x04,
                        // field 10
                        0x52, 0x03, 's', 'u', 'b'}));
}

TEST(ApiWire, PsiDataDouble) {
  rt::PsiData d;
  d.set_total(5);
  d.set_avg10(1.5);
  // field 2 is a double (wire type 1): 1.5 = 0x3ff8000000000000, little-endian.
  EXPECT_WIRE(d, Bytes({0x08, 0x05, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                        0xf8, 0x3f}));
}

TEST(ApiWire, StreamResponsesCarryRepeatedListAtField1) {
  rt::StreamPodSandboxesResponse pods;
  pods.add_pod_sandboxes()->set_id("a");
  pods.add_pod_sandboxes()->set_id("b");
  EXPECT_WIRE(pods, Bytes({0x0a, 0x03, 0x0a, 0x01, 'a',  //
                           0x0a, 0x03, 0x0a, 0x01, 'b'}));

  rt::StreamContainersRequest req;
  req.mutable_filter()->set_id("x");
  EXPECT_WIRE(req, Bytes({0x0a, 0x03, 0x0a, 0x01, 'x'}));

  rt::StreamImagesResponse images;
  images.add_images()->set_size(7);
  EXPECT_WIRE(images, Bytes({0x0a, 0x02, 0x20, 0x07}));
}

TEST(ApiWire, ParsesHandEncodedExecSyncResponse) {
  // stdout "hi" (field 1), stderr "!" (field 2), exit_code 2 (field 3).
  const std::string wire = Bytes({0x0a, 0x02, 'h', 'i', 0x12, 0x01, '!', 0x18,
                                  0x02});
  rt::ExecSyncResponse resp;
  ASSERT_TRUE(resp.ParseFromString(wire));
  EXPECT_EQ(resp.stdout(), "hi");
  EXPECT_EQ(resp.stderr(), "!");
  EXPECT_EQ(resp.exit_code(), 2);
}

TEST(ApiWire, ParsesHandEncodedStatusResponse) {
  // status{conditions[{type "RuntimeReady", status true}]}, features{1: true}
  // Lengths: condition = 2 + 12 + 2 = 16, RuntimeStatus = 2 + 16 = 18.
  const std::string wire = Bytes({0x0a, 0x12, 0x0a, 0x10, 0x0a, 0x0c, 'R', 'u',
                                  'n', 't', 'i', 'm', 'e', 'R', 'e', 'a', 'd',
                                  'y', 0x10, 0x01,
                                  // field 4: RuntimeFeatures
                                  0x22, 0x02, 0x08, 0x01});
  rt::StatusResponse resp;
  ASSERT_TRUE(resp.ParseFromString(wire));
  ASSERT_EQ(resp.status().conditions_size(), 1);
  EXPECT_EQ(resp.status().conditions(0).type(), "RuntimeReady");
  EXPECT_TRUE(resp.status().conditions(0).status());
  EXPECT_TRUE(resp.features().supplemental_groups_policy());
}

// --- descriptor checks ------------------------------------------------------

const pb::FileDescriptor* ApiFile() {
  return rt::VersionRequest::descriptor()->file();
}

TEST(ApiDescriptor, FileShape) {
  const pb::FileDescriptor* f = ApiFile();
  EXPECT_EQ(f->package(), "runtime.v1");
  EXPECT_EQ(f->syntax(), pb::FileDescriptor::SYNTAX_PROTO3);
  EXPECT_EQ(f->dependency_count(), 0);
  EXPECT_EQ(f->options().go_package(), "k8s.io/cri-api/pkg/apis/runtime/v1");
  EXPECT_EQ(f->service_count(), 2);
  EXPECT_EQ(f->message_type_count(), 170);
  EXPECT_EQ(f->enum_type_count(), 10);
}

TEST(ApiDescriptor, ServicesAndStreaming) {
  const pb::DescriptorPool* pool = pb::DescriptorPool::generated_pool();
  const pb::ServiceDescriptor* runtime =
      pool->FindServiceByName("runtime.v1.RuntimeService");
  const pb::ServiceDescriptor* image =
      pool->FindServiceByName("runtime.v1.ImageService");
  ASSERT_NE(runtime, nullptr);
  ASSERT_NE(image, nullptr);
  EXPECT_EQ(runtime->method_count(), 35);
  EXPECT_EQ(image->method_count(), 6);
  EXPECT_EQ(runtime->method_count() + image->method_count(), 41);

  const std::set<std::string> streaming = {
      "StreamPodSandboxes",    "StreamContainers",
      "StreamContainerStats",  "StreamPodSandboxStats",
      "StreamPodSandboxMetrics", "GetContainerEvents",
      "StreamImages"};
  int seen_streaming = 0;
  for (const pb::ServiceDescriptor* svc : {runtime, image}) {
    for (int i = 0; i < svc->method_count(); ++i) {
      const pb::MethodDescriptor* m = svc->method(i);
      EXPECT_FALSE(m->client_streaming()) << m->full_name();
      const bool want = streaming.count(m->name()) > 0;
      EXPECT_EQ(m->server_streaming(), want) << m->full_name();
      if (want) ++seen_streaming;
    }
  }
  EXPECT_EQ(seen_streaming, 7);

  // Development-branch RPCs must not be present.
  EXPECT_EQ(runtime->FindMethodByName("CheckpointPod"), nullptr);
  EXPECT_EQ(runtime->FindMethodByName("RestorePod"), nullptr);

  // Each streaming list call takes its List filter and returns a batch.
  const pb::MethodDescriptor* sc = runtime->FindMethodByName("StreamContainers");
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ(sc->input_type()->field(0)->message_type()->full_name(),
            "runtime.v1.ContainerFilter");
  EXPECT_EQ(sc->output_type()->full_name(),
            "runtime.v1.StreamContainersResponse");
}

TEST(ApiDescriptor, UnusualWireNames) {
  // Field names are part of the contract for JSON and text formats; these
  // break the snake_case convention upstream and must be kept verbatim.
  const pb::Descriptor* mount = rt::Mount::descriptor();
  ASSERT_NE(mount->FindFieldByName("uidMappings"), nullptr);
  EXPECT_EQ(mount->FindFieldByName("uidMappings")->number(), 6);
  EXPECT_EQ(mount->FindFieldByName("gidMappings")->number(), 7);
  EXPECT_EQ(rt::ContainerConfig::descriptor()->FindFieldByName("CDI_devices")
                ->number(),
            17);
  EXPECT_EQ(rt::PsiStats::descriptor()->FindFieldByName("Full")->number(), 1);
  EXPECT_EQ(rt::PsiStats::descriptor()->FindFieldByName("Some")->number(), 2);
  EXPECT_EQ(rt::PsiData::descriptor()->FindFieldByName("Avg300")->number(), 4);
  EXPECT_EQ(rt::Namespace::descriptor()->FindFieldByName("options")->number(),
            2);
  EXPECT_TRUE(rt::LinuxContainerSecurityContext::descriptor()
                  ->FindFieldByName("apparmor_profile")
                  ->options()
                  .deprecated());
  EXPECT_EQ(rt::SecurityProfile::ProfileType_descriptor()->full_name(),
            "runtime.v1.SecurityProfile.ProfileType");
  EXPECT_EQ(rt::Signal_descriptor()->FindValueByName("SIGRTMAX")->number(), 65);
  EXPECT_EQ(rt::CgroupDriver_descriptor()->FindValueByName("CGROUPFS")->number(),
            1);
}

// --- generated gRPC code ----------------------------------------------------

// Overriding a server-streaming handler proves the generated service has the
// writer-based signature the server code will implement.
class StreamOnly final : public rt::RuntimeService::Service {
 public:
  grpc::Status StreamPodSandboxes(
      grpc::ServerContext* /*ctx*/,
      const rt::StreamPodSandboxesRequest* /*req*/,
      grpc::ServerWriter<rt::StreamPodSandboxesResponse>* /*writer*/) override {
    return grpc::Status::OK;
  }
};

TEST(ApiGrpc, StubsAndServicesBuild) {
  StreamOnly service;
  rt::ImageService::Service images;
  auto channel = grpc::CreateChannel("unix:///nonexistent/crius-api-test.sock",
                                     grpc::InsecureChannelCredentials());
  auto runtime_stub = rt::RuntimeService::NewStub(channel);
  auto image_stub = rt::ImageService::NewStub(channel);
  EXPECT_NE(runtime_stub, nullptr);
  EXPECT_NE(image_stub, nullptr);
}

}  // namespace
