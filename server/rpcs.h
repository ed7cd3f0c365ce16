#pragma once
// The CRI RPCs as X-macro lists, so the gRPC adapters, the service and its
// "not built yet" answers are generated from one list and cannot drift apart.
// Unary RPC `M` takes runtime::v1::M##Request and returns M##Response.

#define CRIUS_RUNTIME_UNARY_RPCS(X) \
  X(Version)                        \
  X(RunPodSandbox)                  \
  X(StopPodSandbox)                 \
  X(RemovePodSandbox)               \
  X(PodSandboxStatus)               \
  X(ListPodSandbox)                 \
  X(CreateContainer)                \
  X(StartContainer)                 \
  X(StopContainer)                  \
  X(RemoveContainer)                \
  X(ListContainers)                 \
  X(ContainerStatus)                \
  X(UpdateContainerResources)       \
  X(ReopenContainerLog)             \
  X(ExecSync)                       \
  X(Exec)                           \
  X(Attach)                         \
  X(PortForward)                    \
  X(ContainerStats)                 \
  X(ListContainerStats)             \
  X(PodSandboxStats)                \
  X(ListPodSandboxStats)            \
  X(UpdateRuntimeConfig)            \
  X(Status)                         \
  X(CheckpointContainer)            \
  X(ListMetricDescriptors)          \
  X(ListPodSandboxMetrics)          \
  X(RuntimeConfig)                  \
  X(UpdatePodSandboxResources)

#define CRIUS_IMAGE_UNARY_RPCS(X) \
  X(ListImages)                   \
  X(ImageStatus)                  \
  X(PullImage)                    \
  X(RemoveImage)                  \
  X(ImageFsInfo)

// Server-streaming RPCs: X(Method, Request, Response).
#define CRIUS_RUNTIME_STREAM_RPCS(X)                                                   \
  X(StreamPodSandboxes, StreamPodSandboxesRequest, StreamPodSandboxesResponse)         \
  X(StreamContainers, StreamContainersRequest, StreamContainersResponse)               \
  X(StreamContainerStats, StreamContainerStatsRequest, StreamContainerStatsResponse)   \
  X(StreamPodSandboxStats, StreamPodSandboxStatsRequest, StreamPodSandboxStatsResponse) \
  X(GetContainerEvents, GetEventsRequest, ContainerEventResponse)                      \
  X(StreamPodSandboxMetrics, StreamPodSandboxMetricsRequest, StreamPodSandboxMetricsResponse)

#define CRIUS_IMAGE_STREAM_RPCS(X) X(StreamImages, StreamImagesRequest, StreamImagesResponse)
