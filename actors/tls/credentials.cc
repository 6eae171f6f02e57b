#include "actors/tls/credentials.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace troupe {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& what, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat("TLS: no ", what, " file"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("TLS: cannot read ", what, " ", path));
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

// Every certificate in a PEM text, in order (OpenSSL parses them).
std::vector<X509Ptr> Certificates(const std::string& pem) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<X509Ptr> out;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  ERR_clear_error();  // the end of the text reads as an error
  return out;
}

absl::Status CheckValidNow(const std::string& path, X509* cert) {
  if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
    return absl::InvalidArgumentError(absl::StrCat("TLS: the certificate in ", path,
                                                   " has expired"));
  }
  if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
    return absl::InvalidArgumentError(absl::StrCat("TLS: the certificate in ", path,
                                                   " is not valid yet"));
  }
  return absl::OkStatus();
}

// Checks the server's certificate names the identity the channel expects (gRPC has already
// checked the chain against the CA bundle).
class IdentityVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit IdentityVerifier(std::string expected) : expected_(std::move(expected)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)>, grpc::Status* sync_status) override {
    std::string want = expected_;
    if (want.empty()) want = std::string(HostOfAddress(std::string(request->target_name().data(),
                                                                   request->target_name().size())));
    std::vector<std::string> names;
    for (const auto& list : {request->uri_names(), request->dns_names(), request->ip_names()}) {
      for (const grpc::string_ref& n : list) names.emplace_back(n.data(), n.size());
    }
    if (std::find(names.begin(), names.end(), want) != names.end()) {
      *sync_status = grpc::Status::OK;
    } else {
      std::string have;
      for (const std::string& n : names) absl::StrAppend(&have, have.empty() ? "" : ", ", n);
      *sync_status = grpc::Status(
          grpc::StatusCode::UNAUTHENTICATED,
          absl::StrCat("the server's certificate is for [", have, "], not ", want));
    }
    return true;  // decided synchronously
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  const std::string expected_;
};

std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> Provider(
    const TlsFiles& files) {
  const unsigned refresh =
      static_cast<unsigned>(std::max<int64_t>(1, absl::ToInt64Seconds(files.refresh)));
  if (files.cert_file.empty()) {
    return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(files.ca_file,
                                                                                 refresh);
  }
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key_file, files.cert_file, files.ca_file, refresh);
}

}  // namespace

absl::Status CheckTlsFiles(const TlsFiles& files, bool need_identity) {
  absl::StatusOr<std::string> ca = ReadFile("CA bundle (--tls_ca)", files.ca_file);
  if (!ca.ok()) return ca.status();
  const std::vector<X509Ptr> cas = Certificates(*ca);
  if (cas.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("TLS: ", files.ca_file,
                                                   " holds no PEM certificate"));
  }
  if (!need_identity && files.cert_file.empty() && files.key_file.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> cert = ReadFile("certificate (--tls_cert)", files.cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile("private key (--tls_key)", files.key_file);
  if (!key.ok()) return key.status();
  const std::vector<X509Ptr> chain = Certificates(*cert);
  if (chain.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("TLS: ", files.cert_file,
                                                   " holds no PEM certificate"));
  }
  if (absl::Status s = CheckValidNow(files.cert_file, chain.front().get()); !s.ok()) return s;
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(key->data(), static_cast<int>(key->size())));
  std::unique_ptr<EVP_PKEY, KeyDeleter> pkey(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("TLS: ", files.key_file,
                                                   " holds no PEM private key"));
  }
  if (X509_check_private_key(chain.front().get(), pkey.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat("TLS: the key in ", files.key_file,
                                                   " does not belong to the certificate in ",
                                                   files.cert_file));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsServerOptions& options) {
  if (absl::Status s = CheckTlsFiles(options.files, /*need_identity=*/true); !s.ok()) return s;
  grpc::experimental::TlsServerCredentialsOptions tls(Provider(options.files));
  tls.watch_root_certs();
  tls.watch_identity_key_cert_pairs();
  switch (options.client_certificates) {
    case ClientCertificates::kRequire:
      tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      break;
    case ClientCertificates::kOptional:
      tls.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
      break;
    case ClientCertificates::kNone:
      tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
      break;
  }
  return grpc::experimental::TlsServerCredentials(tls);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsChannelOptions& options) {
  const bool identity = !options.files.cert_file.empty() || !options.files.key_file.empty();
  if (absl::Status s = CheckTlsFiles(options.files, identity); !s.ok()) return s;
  return BuildChannelCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> BuildChannelCredentials(
    const TlsChannelOptions& options) {
  const bool identity = !options.files.cert_file.empty() || !options.files.key_file.empty();
  grpc::experimental::TlsChannelCredentialsOptions tls;
  tls.set_certificate_provider(Provider(options.files));
  tls.watch_root_certs();
  if (identity) tls.watch_identity_key_cert_pairs();
  tls.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<IdentityVerifier>(
          options.expected_identity));
  tls.set_check_call_host(false);  // IdentityVerifier checks the name
  return grpc::experimental::TlsCredentials(tls);
}

}  // namespace troupe
