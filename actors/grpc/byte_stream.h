// A typed GrpcStream carried over a stream of serialized messages: what the gateway's streaming
// methods by name (AddStream<Req, Resp>, and the generic AddStream with Req = Resp =
// grpc::ByteBuffer) run on, whichever way the call is served - a generic callback reactor on
// gRPC's threads, or a call on the workers' completion queues (GrpcServerOptions::worker_queues).
//
// The transport (ByteTransport) starts reads, writes and the finish of raw messages; it reports
// their completions to the TypedOverBytes it carries, which parses each message read as Req
// (one that does not parse ends the call with INVALID_ARGUMENT), serializes each reply, and
// drives the same StreamCallCore as the typed callback reactors (stream_call.h), so flow
// control, ordering and cancellation behave alike.
//
// Thread safety: as StreamCallCore's reactor side - the transport calls the reactions one at a
// time per operation kind, from any thread; the core's pump starts at most one read and one
// write at a time.
#ifndef ACTORS_GRPC_BYTE_STREAM_H_
#define ACTORS_GRPC_BYTE_STREAM_H_

#include <memory>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "actors/grpc/stream_call.h"
#include "grpcpp/grpcpp.h"

namespace troupe::internal {

class ByteTransport {
 public:
  virtual void StartRead(grpc::ByteBuffer* buffer) = 0;
  // `options` as the core's pump chose them (its buffer hint: StreamCallCore::HintLocked).
  virtual void StartWrite(const grpc::ByteBuffer* buffer, grpc::WriteOptions options) = 0;
  virtual void Finish(grpc::Status status) = 0;
  // The scheduler worker whose completion queue carries the call's events (worker queues), or
  // -1 (gRPC's threads): the actor serving the stream is homed there.
  virtual int home_worker() const { return -1; }

 protected:
  ~ByteTransport() = default;
};

// What a transport reports about its operations and the call.
class ByteStreamReactions {
 public:
  virtual ~ByteStreamReactions() = default;
  virtual void OnReadDone(bool ok) = 0;
  virtual void OnWriteDone(bool ok) = 0;
  virtual void OnCancel() = 0;  // the call was cancelled (client, deadline, server shutdown)
  virtual void OnDone() = 0;    // the call is over: no operation starts after this
};

template <typename Req, typename Resp>
class TypedOverBytes final : public StreamOperations<Req, Resp>, public ByteStreamReactions {
 public:
  TypedOverBytes(ByteTransport* transport, grpc::ServerContextBase* context,
                 GrpcStreamOptions options)
      : transport_(transport),
        core_(std::make_shared<StreamCallCore<Req, Resp>>(this, context, options,
                                                          transport->home_worker())) {}
  const std::shared_ptr<StreamCallCore<Req, Resp>>& core() const { return core_; }

  // StreamOperations (the core's pump).
  void StartRead(Req* buffer) override {
    target_ = buffer;
    transport_->StartRead(&in_);
  }
  void StartWrite(const Resp* reply, grpc::WriteOptions options) override {
    if constexpr (std::is_same_v<Resp, grpc::ByteBuffer>) {
      transport_->StartWrite(reply, options);
    } else {
      bool own = false;
      out_.Clear();
      (void)grpc::SerializationTraits<Resp>::Serialize(*reply, &out_, &own);
      transport_->StartWrite(&out_, options);
    }
  }
  void Finish(grpc::Status status) override { transport_->Finish(std::move(status)); }

  // ByteStreamReactions (the transport).
  void OnReadDone(bool ok) override {
    if (ok) {
      if constexpr (std::is_same_v<Req, grpc::ByteBuffer>) {
        *target_ = std::move(in_);
      } else if (!grpc::SerializationTraits<Req>::Deserialize(&in_, target_).ok()) {
        // Not a Req: the call ends with INVALID_ARGUMENT; the actor sees the reads end.
        core_->Finish(absl::InvalidArgumentError(
            absl::StrCat("a message does not parse as ", Req::descriptor()->full_name())));
        ok = false;
      }
    }
    in_.Clear();
    core_->OnReadDone(ok);
  }
  void OnWriteDone(bool ok) override { core_->OnWriteDone(ok); }
  void OnCancel() override { core_->OnCancel(); }
  void OnDone() override { core_->OnDone(); }

 private:
  ByteTransport* const transport_;
  std::shared_ptr<StreamCallCore<Req, Resp>> core_;
  Req* target_ = nullptr;  // the core's read buffer, between StartRead and OnReadDone
  grpc::ByteBuffer in_;
  grpc::ByteBuffer out_;  // the reply being written (the core writes one at a time)
};

// Opens a typed stream over `transport` for a call and hands its GrpcStream on (to an actor).
using OpenByteStream = std::function<std::unique_ptr<ByteStreamReactions>(
    ByteTransport* transport, grpc::ServerContextBase* context)>;

template <typename Req, typename Resp>
OpenByteStream MakeOpenByteStream(std::function<void(GrpcStream<Req, Resp>)> on_stream,
                                  GrpcStreamOptions options) {
  return [on_stream = std::move(on_stream), options](ByteTransport* transport,
                                                     grpc::ServerContextBase* context) {
    auto stream = std::make_unique<TypedOverBytes<Req, Resp>>(transport, context, options);
    const std::optional<TraceContext> trace = stream->core()->trace();
    ScopedTrace traced(trace.has_value() ? &*trace : nullptr);  // what on_stream sends
    on_stream(GrpcStream<Req, Resp>(stream->core()));
    return std::unique_ptr<ByteStreamReactions>(std::move(stream));
  };
}

}  // namespace troupe::internal

#endif  // ACTORS_GRPC_BYTE_STREAM_H_
