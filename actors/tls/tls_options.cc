#include "actors/tls/tls_options.h"

#include <arpa/inet.h>

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "framework/log/log.h"

namespace troupe {

std::string_view HostOfAddress(std::string_view address) {
  if (address.starts_with("[")) {
    const size_t close = address.find(']');
    return close == std::string_view::npos ? address : address.substr(1, close - 1);
  }
  const size_t colon = address.rfind(':');
  if (colon != std::string_view::npos && address.find(':') == colon) return address.substr(0, colon);
  return address;  // no port, or a bare IPv6 address
}

bool IsLoopbackAddress(std::string_view address) {
  if (address.starts_with("unix:") || address.starts_with("unix-abstract:")) {
    return true;  // a local socket: only this machine can reach it
  }
  const std::string host(HostOfAddress(address));
  if (host == "localhost") return true;
  in_addr v4;
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;  // a name, or empty (every interface)
}

absl::Status CheckListenSecurity(std::string_view what, std::string_view address,
                                 bool tls_enabled, bool allow_insecure) {
  if (tls_enabled || IsLoopbackAddress(address)) return absl::OkStatus();
  if (!allow_insecure) {
    return absl::FailedPreconditionError(absl::StrCat(
        std::string(what), ": refusing to listen on ", std::string(address),
        " without TLS: anyone who reaches it could call every actor it serves. Give it TLS "
        "(a certificate, its key and the CA bundle: --tls_cert, --tls_key, --tls_ca in the "
        "samples), listen on a loopback address, or set allow_insecure (--allow_insecure) "
        "explicitly."));
  }
  Log(absl::LogSeverity::kWarning, "listening without TLS (allow_insecure)",
      {{"server", absl::string_view(what.data(), what.size())},
       {"address", absl::string_view(address.data(), address.size())}});
  return absl::OkStatus();
}

}  // namespace troupe
