// A plain gRPC client of the Echo service (proto/echo.proto): it knows nothing of actors, yet
// the server behind it is actors (echo_server --grpc_port).
//
//   bazel run //examples/grpc_client -- --target=127.0.0.1:7001 --text=hi --delay_ms=100 --calls=3
//
// Prints each reply and its latency; exits non-zero (one line) if a call fails or a reply
// differs from what was sent.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "proto/echo.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:7001", "the Echo server, host:port");
ABSL_FLAG(std::string, text, "hello, actors", "text to send");
ABSL_FLAG(int, delay_ms, 0, "ask the server to answer after this many milliseconds");
ABSL_FLAG(int, calls, 1, "how many Say calls to make, one after the other");
ABSL_FLAG(int, deadline_ms, 5000, "deadline of each call");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Calls Echo.Say on a troupe echo_server over gRPC.");
  absl::ParseCommandLine(argc, argv);
  auto stub = troupe::examples::Echo::NewStub(
      grpc::CreateChannel(absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials()));
  for (int i = 0; i < absl::GetFlag(FLAGS_calls); ++i) {
    grpc::ClientContext context;
    context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Milliseconds(absl::GetFlag(FLAGS_deadline_ms))));
    troupe::examples::EchoRequest request;
    request.set_text(absl::GetFlag(FLAGS_text));
    request.set_delay_ms(absl::GetFlag(FLAGS_delay_ms));
    troupe::examples::EchoReply reply;
    const absl::Time start = absl::Now();
    const grpc::Status status = stub->Say(&context, request, &reply);
    if (!status.ok()) {
      std::fprintf(stderr, "grpc_client: Say failed: %s (code %d)\n",
                   status.error_message().c_str(), static_cast<int>(status.error_code()));
      return 1;
    }
    if (reply.text() != request.text()) {
      std::fprintf(stderr, "grpc_client: reply '%s' differs from '%s'\n", reply.text().c_str(),
                   request.text().c_str());
      return 1;
    }
    std::printf("reply \"%s\" in %s\n", reply.text().c_str(),
                absl::FormatDuration(absl::Now() - start).c_str());
  }
  return 0;
}
