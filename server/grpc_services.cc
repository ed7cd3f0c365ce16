#include "server/grpc_services.h"

#include <chrono>

#include "absl/time/time.h"

namespace crius::server {
namespace {

CallContext ContextOf(const grpc::ServerContext* context) {
  CallContext ctx;
  const auto deadline = context->deadline();
  // gRPC reports "no deadline" as the far end of system_clock.
  if (deadline < std::chrono::system_clock::now() + std::chrono::hours(24 * 365)) {
    ctx.deadline = absl::FromChrono(deadline);
  }
  return ctx;
}

// Unary: one request, one response, both owned by gRPC.
#define CRIUS_ADAPT_UNARY(M)                                                         \
  grpc::Status M(grpc::ServerContext* context, const runtime::v1::M##Request* req,   \
                 runtime::v1::M##Response* resp) override {                          \
    const CallContext ctx = ContextOf(context);                                      \
    return edge_->Call(#M, *req, [&] { return cri_->M(ctx, *req, resp); });          \
  }

// Server stream: the service hands each response to a writer callback.
#define CRIUS_ADAPT_STREAM(M, Req, Resp)                                             \
  grpc::Status M(grpc::ServerContext* context, const runtime::v1::Req* req,          \
                 grpc::ServerWriter<runtime::v1::Resp>* writer) override {           \
    CallContext ctx = ContextOf(context);                                            \
    ctx.cancelled = [context] { return context->IsCancelled(); };                    \
    ctx.headers_ready = [writer] { writer->SendInitialMetadata(); };                 \
    return edge_->Call(#M, *req, [&] {                                               \
      return cri_->M(ctx, *req, [writer](const runtime::v1::Resp& r) { return writer->Write(r); }); \
    });                                                                              \
  }

class RuntimeServiceAdapter final : public runtime::v1::RuntimeService::Service {
 public:
  RuntimeServiceAdapter(Edge* edge, CriService* cri) : edge_(edge), cri_(cri) {}
  CRIUS_RUNTIME_UNARY_RPCS(CRIUS_ADAPT_UNARY)
  CRIUS_RUNTIME_STREAM_RPCS(CRIUS_ADAPT_STREAM)

 private:
  Edge* const edge_;
  CriService* const cri_;
};

class ImageServiceAdapter final : public runtime::v1::ImageService::Service {
 public:
  ImageServiceAdapter(Edge* edge, CriService* cri) : edge_(edge), cri_(cri) {}
  CRIUS_IMAGE_UNARY_RPCS(CRIUS_ADAPT_UNARY)
  CRIUS_IMAGE_STREAM_RPCS(CRIUS_ADAPT_STREAM)

 private:
  Edge* const edge_;
  CriService* const cri_;
};

#undef CRIUS_ADAPT_UNARY
#undef CRIUS_ADAPT_STREAM

}  // namespace

std::unique_ptr<runtime::v1::RuntimeService::Service> MakeRuntimeService(Edge* edge, CriService* cri) {
  return std::make_unique<RuntimeServiceAdapter>(edge, cri);
}

std::unique_ptr<runtime::v1::ImageService::Service> MakeImageService(Edge* edge, CriService* cri) {
  return std::make_unique<ImageServiceAdapter>(edge, cri);
}

}  // namespace crius::server
