// The key-value server: bazel run //:kv_server -- --port=7300
// With TLS (mutual): --tls_cert=server.pem --tls_key=server.key --tls_ca=ca.pem (tools/dev_certs);
// beyond loopback (--host=0.0.0.0) TLS is required unless --allow_insecure.
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "actors/grpc/gateway.h"
#include "actors/tls/tls_flags.h"
#include "framework/base/stop_signals.h"
#include "kv_service.h"
#include "kv_store.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(int, port, 7300, "gRPC port (0: pick one)");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("kv_server [--host=H] [--port=P] [--tls_cert=F --tls_key=F --tls_ca=F]: the key-value store over gRPC");
  absl::ParseCommandLine(argc, argv);
  troupe::BlockStopSignals();
  troupe::ActorSystem system({.threads = 2});
  troupe::GrpcGateway gateway(system);
  if (absl::Status added = kv::AddKvMethods(gateway, system.Spawn<kv::KvStore>().value());
      !added.ok()) {
    std::fprintf(stderr, "kv_server: %s\n", added.ToString().c_str());
    return 1;
  }
  absl::StatusOr<int> port = gateway.Start(
      {.address = absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port)),
       .tls = troupe::TlsServerOptionsFromFlags(),
       .allow_insecure = troupe::AllowInsecureFromFlags()});
  if (!port.ok()) {
    std::fprintf(stderr, "kv_server: %s\n", port.status().ToString().c_str());
    return 1;
  }
  std::printf("kv on port %d\n", *port);
  std::fflush(stdout);
  troupe::WaitForStopSignal();
  return 0;
}
