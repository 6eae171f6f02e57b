// A plain gRPC client of the Echo service (proto/echo.proto): it knows nothing of actors, yet
// the server behind it is actors (echo_server --grpc_port).
//
//   bazel run //examples/grpc_client -- --target=127.0.0.1:7001 --text=hi --delay_ms=100 --calls=3
//   bazel run //examples/grpc_client -- --target=127.0.0.1:7001 --chat=1000   # one Chat stream
//
// Prints each reply and its latency; exits non-zero (one line) if a call fails or a reply
// differs from what was sent.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "actors/tls/tls_flags.h"
#include "proto/echo.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:7001", "the Echo server, host:port");
ABSL_FLAG(std::string, text, "hello, actors", "text to send");
ABSL_FLAG(int, delay_ms, 0, "ask the server to answer after this many milliseconds");
ABSL_FLAG(int, calls, 1, "how many Say calls to make, one after the other");
ABSL_FLAG(int, deadline_ms, 5000, "deadline of each call");
ABSL_FLAG(int, chat, 0, "instead of Say: send this many messages on one Chat stream");

namespace {

// One Chat stream: a writer thread sends "text #i" while this thread reads the replies, which
// must come back complete and in order.
int Chat(troupe::examples::Echo::Stub& stub, int messages) {
  grpc::ClientContext context;
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Milliseconds(absl::GetFlag(FLAGS_deadline_ms))));
  auto stream = stub.Chat(&context);
  const std::string text = absl::GetFlag(FLAGS_text);
  const absl::Time start = absl::Now();
  std::thread writer([&] {
    troupe::examples::EchoRequest request;
    for (int i = 0; i < messages; ++i) {
      request.set_text(text + " #" + std::to_string(i));
      request.set_delay_ms(absl::GetFlag(FLAGS_delay_ms));
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
  });
  troupe::examples::EchoReply reply;
  int received = 0;
  bool in_order = true;
  while (stream->Read(&reply)) {
    in_order = in_order && reply.text() == text + " #" + std::to_string(received);
    ++received;
  }
  writer.join();
  const grpc::Status status = stream->Finish();
  if (!status.ok()) {
    std::fprintf(stderr, "grpc_client: Chat failed after %d replies: %s (code %d)\n", received,
                 status.error_message().c_str(), static_cast<int>(status.error_code()));
    return 1;
  }
  if (received != messages || !in_order) {
    std::fprintf(stderr, "grpc_client: Chat got %d of %d replies%s\n", received, messages,
                 in_order ? "" : ", out of order");
    return 1;
  }
  std::printf("chat: %d replies in order in %s\n", received,
              absl::FormatDuration(absl::Now() - start).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Calls Echo.Say on a troupe echo_server over gRPC.");
  absl::ParseCommandLine(argc, argv);
  // --tls_cert/--tls_key/--tls_ca (actors/tls/tls_flags.h): mutual TLS; none: plaintext.
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      troupe::ChannelCredentialsFromFlags();
  if (!credentials.ok()) {
    std::fprintf(stderr, "grpc_client: %s\n", credentials.status().ToString().c_str());
    return 1;
  }
  auto stub = troupe::examples::Echo::NewStub(
      grpc::CreateChannel(absl::GetFlag(FLAGS_target), *credentials));
  if (absl::GetFlag(FLAGS_chat) > 0) return Chat(*stub, absl::GetFlag(FLAGS_chat));
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
