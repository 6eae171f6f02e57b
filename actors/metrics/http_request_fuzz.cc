// Fuzz target: bytes a peer might send the metrics port, fed to HttpRequestParser in chunks cut
// by the input's first byte. It must never crash, and a request it returns has a method.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "actors/metrics/http_request_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 64;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  troupe::HttpRequestParser parser({.max_header_bytes = 1024, .max_body_bytes = 1024});
  while (!rest.empty()) {
    auto got = parser.Feed(rest.substr(0, chunk));
    rest.remove_prefix(std::min(chunk, rest.size()));
    if (!got.ok()) break;
    for (const auto& r : *got) {
      if (r.method.empty()) __builtin_trap();
    }
  }
  return 0;
}
