// TestPki: a fresh throw-away PKI for one test, made by tools/dev_certs (the openssl command)
// in the test's temporary directory: a CA and certificates for node-a, node-b, server and
// client (see tools/dev_certs for their names), plus whatever a test adds with Make().
//
// Thread safety: not thread-safe; use from the test's thread.
#ifndef ACTORS_TLS_TESTING_TEST_PKI_H_
#define ACTORS_TLS_TESTING_TEST_PKI_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "actors/tls/tls_options.h"

namespace troupe::testing {

class TestPki {
 public:
  // A new PKI under TEST_TMPDIR (or /tmp). The test needs tools/dev_certs in its data.
  static absl::StatusOr<TestPki> Create();

  const std::string& dir() const { return dir_; }
  std::string Path(const std::string& file) const { return dir_ + "/" + file; }
  // The files of certificate `name` trusting CA `ca` (refresh: 1 s, for rotation tests).
  TlsFiles Files(const std::string& name, const std::string& ca = "ca") const;
  // Runs tools/dev_certs DIR ARGS... (e.g. {"--days=-1", "--out=expired", "node-a"}).
  absl::Status Make(const std::vector<std::string>& args) const;

 private:
  explicit TestPki(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace troupe::testing

#endif  // ACTORS_TLS_TESTING_TEST_PKI_H_
