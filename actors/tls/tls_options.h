// TLS for troupe's network faces (the gRPC gateway and node links): what to configure, and the
// rule that keeps plaintext off the network unless asked for.
//
// All cryptography and certificate handling is gRPC's (TlsServerCredentials / TlsCredentials
// over OpenSSL, certificates read by its FileWatcherCertificateProvider); troupe validates the
// files at start-up with OpenSSL so a bad file is a clear error instead of failed handshakes.
//
// Rotation: the provider re-reads the three files every `refresh`. Replace them atomically
// (write the new file beside the old one, then rename it over) and connections made after the
// next refresh use the new certificate, key or CA bundle; connections already open carry on. A
// CA removed from the bundle stops admitting the peers it signed.
//
// Thread safety: plain values.
#ifndef ACTORS_TLS_TLS_OPTIONS_H_
#define ACTORS_TLS_TLS_OPTIONS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace troupe {

// The PEM files of one TLS endpoint.
struct TlsFiles {
  std::string ca_file;    // trusted CA certificates (a bundle): a peer must be signed by one
  std::string cert_file;  // this endpoint's certificate, then its intermediates
  std::string key_file;   // the certificate's private key
  absl::Duration refresh = absl::Seconds(10);  // how often the files are re-read
  bool enabled() const { return !cert_file.empty() || !key_file.empty() || !ca_file.empty(); }
};

enum class ClientCertificates {
  kRequire,   // mutual TLS: a client without a certificate the CA admits is refused (default)
  kOptional,  // verified if the client sends one; calls without one are unverified
  kNone,      // not asked for (server-only TLS)
};

struct TlsServerOptions {
  TlsFiles files;
  ClientCertificates client_certificates = ClientCertificates::kRequire;
};

struct TlsChannelOptions {
  TlsFiles files;  // cert_file/key_file may be empty: no client certificate (server-only TLS)
  // A name the server's certificate must carry as a subject alternative name (a spiffe:// URI
  // or a DNS name). Empty: the host part of the address dialed (a DNS name or an IP address).
  std::string expected_identity;
};

// The host part of "host:port", "[v6]:port" or a bare host.
std::string_view HostOfAddress(std::string_view address);

// True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost (host:port, or
// [v6]:port, or a bare host).
bool IsLoopbackAddress(std::string_view address);

// Secure by default: listening on a non-loopback `address` without TLS is FAILED_PRECONDITION
// (the message names the address and how to fix it) unless `allow_insecure`, which is logged
// once to stderr. `what` names the listener in messages ("gRPC gateway", "node").
absl::Status CheckListenSecurity(std::string_view what, std::string_view address,
                                 bool tls_enabled, bool allow_insecure);

}  // namespace troupe

#endif  // ACTORS_TLS_TLS_OPTIONS_H_
