// HttpRequestParser: HTTP/1.x requests out of a byte stream, for troupe's small HTTP endpoints
// (/metrics, /healthz). The parsing is Node.js's http_parser (Debian's libhttp-parser-dev); this
// class only collects what a read-only endpoint needs - method, path, keep-alive - and enforces
// our limits before anything grows: the request line and headers at most `max_header_bytes`, a
// body at most `max_body_bytes` (read and dropped). Pipelined requests in one chunk are all
// returned, in order.
//
// After an error the parser stays failed: the connection answers once and closes.
//
// Thread safety: none; one parser per connection.
#ifndef ACTORS_METRICS_HTTP_REQUEST_PARSER_H_
#define ACTORS_METRICS_HTTP_REQUEST_PARSER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace troupe {

struct HttpRequest {
  std::string method;  // "GET", "HEAD", ...
  std::string path;    // the target without its query ("/metrics")
  bool keep_alive = true;
};

struct HttpLimits {
  size_t max_header_bytes = 8 << 10;  // request line + headers
  size_t max_body_bytes = 64 << 10;
};

class HttpRequestParser {
 public:
  explicit HttpRequestParser(HttpLimits limits = {});
  ~HttpRequestParser();
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // The requests completed by `bytes` (any chunking). INVALID_ARGUMENT: not HTTP (malformed, or
  // an upgrade/CONNECT); RESOURCE_EXHAUSTED: over a limit. Requests completed before the error
  // in the same chunk are dropped with it.
  absl::StatusOr<std::vector<HttpRequest>> Feed(std::string_view bytes);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace troupe

#endif  // ACTORS_METRICS_HTTP_REQUEST_PARSER_H_
