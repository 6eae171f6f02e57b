// The peer of the gRPC gateway benchmark: a plain gRPC C++ callback-API server of the Echo
// service that answers directly on gRPC's threads, with no actors. Say returns the text
// (delay_ms is ignored: the benchmark sends 0); Chat reads a request, writes its reply, reads the
// next, and finishes when the client half-closes.
//
//   bazel run -c opt //bench:plain_grpc_echo_server -- --port=0   # prints "grpc on port N"
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/plain_grpc_listen.h"
#include "framework/base/stop_signals.h"
#include "grpcpp/grpcpp.h"
#include "proto/echo.grpc.pb.h"

ABSL_FLAG(int, port, 0, "port (0: pick one; the chosen port is printed)");

namespace {

using troupe::examples::EchoReply;
using troupe::examples::EchoRequest;

class ChatReactor final : public grpc::ServerBidiReactor<EchoRequest, EchoReply> {
 public:
  ChatReactor() { StartRead(&request_); }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    reply_.set_text(std::move(*request_.mutable_text()));
    StartWrite(&reply_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    StartRead(&request_);
  }
  void OnDone() override { delete this; }

 private:
  EchoRequest request_;
  EchoReply reply_;
};

class PlainEcho final : public troupe::examples::Echo::CallbackService {
  grpc::ServerUnaryReactor* Say(grpc::CallbackServerContext* context, const EchoRequest* request,
                                EchoReply* reply) override {
    reply->set_text(request->text());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  grpc::ServerBidiReactor<EchoRequest, EchoReply>* Chat(grpc::CallbackServerContext*) override {
    return new ChatReactor();
  }
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  troupe::BlockStopSignals();

  PlainEcho service;
  grpc::ServerBuilder builder;
  int port = 0;
  if (absl::Status s = troupe::bench::ListenForBenchmark(builder, absl::GetFlag(FLAGS_port), &port);
      !s.ok()) {
    std::fprintf(stderr, "plain_grpc_echo_server: %s\n", s.ToString().c_str());
    return 1;
  }
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "plain_grpc_echo_server: cannot listen\n");
    return 1;
  }
  std::printf("grpc on port %d\n", port);
  std::fflush(stdout);
  troupe::WaitForStopSignal();
  server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  return 0;
}
