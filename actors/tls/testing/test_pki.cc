#include "actors/tls/testing/test_pki.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace troupe::testing {
namespace {

std::string DevCerts() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir != nullptr && workspace != nullptr) {
    return absl::StrCat(srcdir, "/", workspace, "/tools/dev_certs");
  }
  return "tools/dev_certs";
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

absl::StatusOr<TestPki> TestPki::Create() {
  static std::atomic<int> next{0};
  const char* tmp = std::getenv("TEST_TMPDIR");
  TestPki pki(absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/pki-", ::getpid(), "-", next++));
  if (absl::Status s = pki.Make({}); !s.ok()) return s;
  return pki;
}

TlsFiles TestPki::Files(const std::string& name, const std::string& ca) const {
  return TlsFiles{.ca_file = Path(ca + ".pem"),
                  .cert_file = Path(name + ".pem"),
                  .key_file = Path(name + ".key"),
                  .refresh = absl::Seconds(1)};
}

absl::Status TestPki::Make(const std::vector<std::string>& args) const {
  std::string command = absl::StrCat(Quote(DevCerts()), " ", Quote(dir_));
  for (const std::string& a : args) absl::StrAppend(&command, " ", Quote(a));
  absl::StrAppend(&command, " >/dev/null");
  if (std::system(command.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("tools/dev_certs failed: ", command));
  }
  return absl::OkStatus();
}

}  // namespace troupe::testing
