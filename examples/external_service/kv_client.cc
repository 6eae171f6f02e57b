// The key-value client:
//   bazel run //:kv_client -- put greeting hello
//   bazel run //:kv_client -- get greeting
//   bazel run //:kv_client -- delete greeting
//   bazel run //:kv_client -- watch [PREFIX]      (until Ctrl-C)
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "actors/tls/tls_flags.h"
#include "grpcpp/grpcpp.h"
#include "kv.grpc.pb.h"

ABSL_FLAG(std::string, server, "localhost:7300", "the kv_server's address");
ABSL_FLAG(int, timeout_ms, 5000, "deadline of get/put/delete");

namespace {

int Fail(const grpc::Status& status) {
  std::fprintf(stderr, "kv_client: %d %s\n", static_cast<int>(status.error_code()),
               status.error_message().c_str());
  return 1;
}

int Usage() {
  std::fprintf(stderr, "%s\n", absl::ProgramUsageMessage().data());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "kv_client [--server=HOST:PORT] get KEY | put KEY VALUE | delete KEY | watch [PREFIX]");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) return Usage();
  const std::string command = args[1];
  // --tls_cert/--tls_key/--tls_ca: mutual TLS (@troupe//actors/tls:tls_flags); none: plaintext.
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      troupe::ChannelCredentialsFromFlags();
  if (!credentials.ok()) {
    std::fprintf(stderr, "kv_client: %s\n", credentials.status().ToString().c_str());
    return 1;
  }
  auto stub =
      kv::KeyValue::NewStub(grpc::CreateChannel(absl::GetFlag(FLAGS_server), *credentials));
  grpc::ClientContext context;
  if (command != "watch") {
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(absl::GetFlag(FLAGS_timeout_ms)));
  }
  if (command == "get" && args.size() == 3) {
    kv::GetRequest request;
    request.set_key(args[2]);
    kv::GetReply reply;
    if (grpc::Status s = stub->Get(&context, request, &reply); !s.ok()) return Fail(s);
    if (!reply.found()) {
      std::printf("(not found)\n");
      return 3;
    }
    std::printf("%s\n", reply.value().c_str());
  } else if (command == "put" && args.size() == 4) {
    kv::PutRequest request;
    request.set_key(args[2]);
    request.set_value(args[3]);
    kv::PutReply reply;
    if (grpc::Status s = stub->Put(&context, request, &reply); !s.ok()) return Fail(s);
    std::printf(reply.replaced() ? "replaced\n" : "added\n");
  } else if (command == "delete" && args.size() == 3) {
    kv::DeleteRequest request;
    request.set_key(args[2]);
    kv::DeleteReply reply;
    if (grpc::Status s = stub->Delete(&context, request, &reply); !s.ok()) return Fail(s);
    std::printf(reply.deleted() ? "deleted\n" : "(not found)\n");
  } else if (command == "watch" && args.size() <= 3) {
    kv::WatchRequest request;
    if (args.size() == 3) request.set_prefix(args[2]);
    auto reader = stub->Watch(&context, request);
    kv::WatchEvent event;
    while (reader->Read(&event)) {
      switch (event.kind()) {
        case kv::WatchEvent::PUT:
          std::printf("put %s=%s\n", event.key().c_str(), event.value().c_str());
          break;
        case kv::WatchEvent::DELETE:
          std::printf("delete %s\n", event.key().c_str());
          break;
        default:
          std::printf("-- now watching\n");
      }
      std::fflush(stdout);
    }
    return Fail(reader->Finish());
  } else {
    return Usage();
  }
  return 0;
}
