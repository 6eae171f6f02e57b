#include "actors/tls/tls_flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "actors/tls/credentials.h"

ABSL_FLAG(std::string, tls_cert, "", "TLS: this process's certificate chain (PEM)");
ABSL_FLAG(std::string, tls_key, "", "TLS: the certificate's private key (PEM)");
ABSL_FLAG(std::string, tls_ca, "", "TLS: the CA bundle peers' certificates must be signed by (PEM)");
ABSL_FLAG(absl::Duration, tls_refresh, absl::Seconds(10),
          "TLS: how often the files are re-read (replace them atomically to rotate)");
ABSL_FLAG(std::string, tls_identity, "",
          "TLS (clients): the name the server's certificate must carry (default: the host dialed)");
ABSL_FLAG(bool, allow_insecure, false,
          "listen on a non-loopback address without TLS anyway (anyone who reaches it can call it)");

namespace troupe {

TlsFiles TlsFilesFromFlags() {
  return TlsFiles{.ca_file = absl::GetFlag(FLAGS_tls_ca),
                  .cert_file = absl::GetFlag(FLAGS_tls_cert),
                  .key_file = absl::GetFlag(FLAGS_tls_key),
                  .refresh = absl::GetFlag(FLAGS_tls_refresh)};
}

TlsServerOptions TlsServerOptionsFromFlags() { return TlsServerOptions{.files = TlsFilesFromFlags()}; }

bool AllowInsecureFromFlags() { return absl::GetFlag(FLAGS_allow_insecure); }

std::string TlsIdentityFromFlags() { return absl::GetFlag(FLAGS_tls_identity); }

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFromFlags() {
  const TlsFiles files = TlsFilesFromFlags();
  if (!files.enabled()) return grpc::InsecureChannelCredentials();
  return MakeChannelCredentials(
      {.files = files, .expected_identity = absl::GetFlag(FLAGS_tls_identity)});
}

}  // namespace troupe
