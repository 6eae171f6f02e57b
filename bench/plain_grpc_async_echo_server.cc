// The second anchor of the gRPC gateway benchmark: a plain gRPC C++ server of the Echo service
// written with the async (completion-queue) API, one ServerCompletionQueue per thread, each
// thread driving its own queue (`Next` in a loop) and answering on that thread, with no actors:
// the fastest shape of a C++ gRPC server (grpc_bench's `cpp_grpc_mt`; asio-grpc runs gRPC this
// way). Say returns the text (delay_ms is ignored: the benchmark sends 0); Chat reads a request,
// writes its reply, reads the next, and finishes when the client half-closes. Repeat is not
// served (the benchmark does not call it).
//
//   bazel run -c opt //bench:plain_grpc_async_echo_server -- --port=0 --threads=1
//   # prints "grpc on port N"
//
// Each call is a small state machine whose address is its one outstanding tag: a call has at
// most one operation in flight (Chat alternates read and write), so a tag names both the call and
// where it is. Shutdown: the server first (pending calls end, requests not yet matched come back
// with ok=false), then each queue, whose thread drains it and exits.
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/plain_grpc_listen.h"
#include "framework/base/stop_signals.h"
#include "grpcpp/grpcpp.h"
#include "proto/echo.grpc.pb.h"

ABSL_FLAG(int, port, 0, "port (0: pick one; the chosen port is printed)");
ABSL_FLAG(int, threads, 1, "threads, each with its own completion queue");

namespace {

using troupe::examples::Echo;
using troupe::examples::EchoReply;
using troupe::examples::EchoRequest;

// Calls of each method waiting for a client, per queue: a new one is requested as each is
// matched, so this only needs to cover the arrivals between two turns of a queue's loop.
constexpr int kRequestsPerQueue = 16;

class Call {
 public:
  virtual ~Call() = default;
  // The outstanding operation completed (`ok`: as gRPC reports it).
  virtual void Proceed(bool ok) = 0;
};

class SayCall final : public Call {
 public:
  SayCall(Echo::AsyncService* service, grpc::ServerCompletionQueue* cq)
      : service_(service), cq_(cq), responder_(&context_) {
    service_->RequestSay(&context_, &request_, &responder_, cq_, cq_, this);
  }
  void Proceed(bool ok) override {
    if (!ok || finishing_) {  // shutting down, or the reply has gone
      delete this;
      return;
    }
    new SayCall(service_, cq_);  // the next caller
    reply_.set_text(std::move(*request_.mutable_text()));
    finishing_ = true;
    responder_.Finish(reply_, grpc::Status::OK, this);
  }

 private:
  Echo::AsyncService* const service_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext context_;
  EchoRequest request_;
  EchoReply reply_;
  grpc::ServerAsyncResponseWriter<EchoReply> responder_;
  bool finishing_ = false;
};

class ChatCall final : public Call {
 public:
  ChatCall(Echo::AsyncService* service, grpc::ServerCompletionQueue* cq)
      : service_(service), cq_(cq), stream_(&context_) {
    service_->RequestChat(&context_, &stream_, cq_, cq_, this);
  }
  void Proceed(bool ok) override {
    switch (state_) {
      case State::kWaiting:
        if (!ok) break;  // shutting down
        new ChatCall(service_, cq_);
        Read();
        return;
      case State::kReading:
        if (!ok) {  // the client half-closed (or went away)
          state_ = State::kFinishing;
          stream_.Finish(grpc::Status::OK, this);
          return;
        }
        reply_.set_text(std::move(*request_.mutable_text()));
        state_ = State::kWriting;
        stream_.Write(reply_, this);
        return;
      case State::kWriting:
        if (!ok) {
          state_ = State::kFinishing;
          stream_.Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"), this);
          return;
        }
        Read();
        return;
      case State::kFinishing:
        break;
    }
    delete this;
  }

 private:
  enum class State { kWaiting, kReading, kWriting, kFinishing };
  void Read() {
    state_ = State::kReading;
    stream_.Read(&request_, this);
  }
  Echo::AsyncService* const service_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext context_;
  EchoRequest request_;
  EchoReply reply_;
  grpc::ServerAsyncReaderWriter<EchoReply, EchoRequest> stream_;
  State state_ = State::kWaiting;
};

void Drive(Echo::AsyncService* service, grpc::ServerCompletionQueue* cq) {
  for (int i = 0; i < kRequestsPerQueue; ++i) {
    new SayCall(service, cq);
    new ChatCall(service, cq);
  }
  void* tag;
  bool ok;
  while (cq->Next(&tag, &ok)) static_cast<Call*>(tag)->Proceed(ok);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  troupe::BlockStopSignals();
  const int threads = std::max(1, absl::GetFlag(FLAGS_threads));

  Echo::AsyncService service;
  grpc::ServerBuilder builder;
  int port = 0;
  if (absl::Status s = troupe::bench::ListenForBenchmark(builder, absl::GetFlag(FLAGS_port), &port);
      !s.ok()) {
    std::fprintf(stderr, "plain_grpc_async_echo_server: %s\n", s.ToString().c_str());
    return 1;
  }
  builder.RegisterService(&service);
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues;
  for (int i = 0; i < threads; ++i) queues.push_back(builder.AddCompletionQueue());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "plain_grpc_async_echo_server: cannot listen\n");
    return 1;
  }
  std::vector<std::thread> drivers;
  for (auto& cq : queues) drivers.emplace_back(Drive, &service, cq.get());
  std::printf("grpc on port %d\n", port);
  std::fflush(stdout);
  troupe::WaitForStopSignal();
  server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  for (auto& cq : queues) cq->Shutdown();
  for (auto& t : drivers) t.join();
  return 0;
}
