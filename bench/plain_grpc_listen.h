// How the benchmark's plain gRPC servers listen: 127.0.0.1 on --port, over gRPC's own mutual TLS
// when --tls_cert/--tls_key/--tls_ca are given (the same credentials troupe uses), so the
// gateway and its anchors are set up alike.
#ifndef BENCH_PLAIN_GRPC_LISTEN_H_
#define BENCH_PLAIN_GRPC_LISTEN_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "actors/tls/credentials.h"
#include "actors/tls/tls_flags.h"
#include "grpcpp/grpcpp.h"

namespace troupe::bench {

// Adds the listening port to `builder`; the bound port is written to *port by BuildAndStart.
inline absl::Status ListenForBenchmark(grpc::ServerBuilder& builder, int requested, int* port) {
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (TlsFilesFromFlags().enabled()) {
    auto tls = MakeServerCredentials(TlsServerOptionsFromFlags());
    if (!tls.ok()) return tls.status();
    credentials = *tls;
  }
  builder.AddListeningPort(absl::StrCat("127.0.0.1:", requested), credentials, port);
  return absl::OkStatus();
}

}  // namespace troupe::bench

#endif  // BENCH_PLAIN_GRPC_LISTEN_H_
