// The TLS command-line flags every troupe server and client binary shares (Abseil flags):
//
//   --tls_cert=FILE --tls_key=FILE --tls_ca=FILE   this process's certificate, its key, and the
//                                                  CA bundle peers must be signed by
//   --tls_refresh=10s                              how often the files are re-read (rotation)
//   --tls_identity=NAME                            (clients) the identity the server's
//                                                  certificate must carry; default the host dialed
//   --allow_insecure                               listen beyond loopback without TLS anyway
//
// Linking this library defines the flags; a binary reads them after absl::ParseCommandLine.
//
// Thread safety: read the flags from the main thread after parsing.
#ifndef ACTORS_TLS_TLS_FLAGS_H_
#define ACTORS_TLS_TLS_FLAGS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "actors/tls/tls_options.h"
#include "grpcpp/security/credentials.h"

namespace troupe {

TlsFiles TlsFilesFromFlags();
TlsServerOptions TlsServerOptionsFromFlags();  // mutual TLS
bool AllowInsecureFromFlags();
std::string TlsIdentityFromFlags();  // --tls_identity (may be empty)
// TLS channel credentials from the flags, or insecure ones when no TLS flag is given.
// INVALID_ARGUMENT: bad files (see CheckTlsFiles).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFromFlags();

}  // namespace troupe

#endif  // ACTORS_TLS_TLS_FLAGS_H_
