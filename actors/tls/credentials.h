// gRPC credentials from TlsServerOptions / TlsChannelOptions (tls_options.h), after checking
// the files with OpenSSL so that a missing file, a file that is not PEM, a key that does not
// belong to its certificate, or an expired certificate is a clear error at start-up rather than
// a stream of failed handshakes.
//
// A channel verifies the server's certificate against the CA bundle (gRPC) and then checks that
// it carries the expected identity as a subject alternative name (our IdentityVerifier, an
// ExternalCertificateVerifier: the address's host by default, like TLS hostname checking).
// A server verifies client certificates against its CA bundle; which identities may do what is
// decided per call from PeerIdentity (peer_identity.h).
//
// Thread safety: functions of their arguments; any thread.
#ifndef ACTORS_TLS_CREDENTIALS_H_
#define ACTORS_TLS_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "actors/tls/tls_options.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace troupe {

// OK if the files exist and hold what they should. INVALID_ARGUMENT naming the file otherwise.
// `need_identity`: cert_file and key_file are required (a server, or a mutual-TLS client).
absl::Status CheckTlsFiles(const TlsFiles& files, bool need_identity);

// INVALID_ARGUMENT: see CheckTlsFiles.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsServerOptions& options);
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsChannelOptions& options);
// The same without the checks, for a caller that made them at start-up (the files may be
// mid-rotation later; gRPC re-reads them and a bad one fails handshakes, not this call).
std::shared_ptr<grpc::ChannelCredentials> BuildChannelCredentials(const TlsChannelOptions& options);

}  // namespace troupe

#endif  // ACTORS_TLS_CREDENTIALS_H_
