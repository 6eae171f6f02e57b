#include "actors/metrics/http_request_parser.h"

#include <http_parser.h>

#include "absl/strings/str_cat.h"

namespace troupe {

struct HttpRequestParser::State {
  http_parser parser;
  http_parser_settings settings;
  HttpLimits limits;
  absl::Status failed;
  size_t header_bytes = 0;  // of the request being read
  size_t body_bytes = 0;
  std::string url;
  std::vector<HttpRequest> done;

  static State& Of(http_parser* p) { return *static_cast<State*>(p->data); }
  // Counts request-line and header bytes; past the limit the parser stops (returns nonzero).
  int CountHeader(size_t n) {
    header_bytes += n;
    if (header_bytes <= limits.max_header_bytes) return 0;
    failed = absl::ResourceExhaustedError(
        absl::StrCat("request headers over ", limits.max_header_bytes, " bytes"));
    return 1;
  }
};

HttpRequestParser::HttpRequestParser(HttpLimits limits) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.limits = limits;
  http_parser_init(&s.parser, HTTP_REQUEST);
  s.parser.data = &s;
  http_parser_settings_init(&s.settings);
  s.settings.on_message_begin = [](http_parser* p) {
    State& st = State::Of(p);
    st.header_bytes = st.body_bytes = 0;
    st.url.clear();
    return 0;
  };
  s.settings.on_url = [](http_parser* p, const char* at, size_t n) {
    State& st = State::Of(p);
    if (st.CountHeader(n) != 0) return 1;
    st.url.append(at, n);
    return 0;
  };
  s.settings.on_header_field = [](http_parser* p, const char*, size_t n) {
    return State::Of(p).CountHeader(n);
  };
  s.settings.on_header_value = [](http_parser* p, const char*, size_t n) {
    return State::Of(p).CountHeader(n);
  };
  s.settings.on_body = [](http_parser* p, const char*, size_t n) {
    State& st = State::Of(p);
    st.body_bytes += n;
    if (st.body_bytes <= st.limits.max_body_bytes) return 0;
    st.failed = absl::ResourceExhaustedError(
        absl::StrCat("request body over ", st.limits.max_body_bytes, " bytes"));
    return 1;
  };
  s.settings.on_message_complete = [](http_parser* p) {
    State& st = State::Of(p);
    HttpRequest r;
    r.method = http_method_str(static_cast<http_method>(p->method));
    r.path = st.url.substr(0, st.url.find_first_of("?#"));
    r.keep_alive = http_should_keep_alive(p) != 0;
    st.done.push_back(std::move(r));
    return 0;
  };
}

HttpRequestParser::~HttpRequestParser() = default;

absl::StatusOr<std::vector<HttpRequest>> HttpRequestParser::Feed(std::string_view bytes) {
  State& s = *state_;
  if (!s.failed.ok()) return s.failed;
  s.done.clear();
  if (bytes.empty()) return std::vector<HttpRequest>();
  const size_t parsed = http_parser_execute(&s.parser, &s.settings, bytes.data(), bytes.size());
  if (s.failed.ok() && HTTP_PARSER_ERRNO(&s.parser) != HPE_OK) {
    s.failed = absl::InvalidArgumentError(
        absl::StrCat("malformed HTTP request: ",
                     http_errno_name(HTTP_PARSER_ERRNO(&s.parser))));
  } else if (s.failed.ok() && (s.parser.upgrade != 0 || parsed != bytes.size())) {
    s.failed = absl::InvalidArgumentError("HTTP upgrade or CONNECT is not served here");
  }
  if (!s.failed.ok()) return s.failed;
  return std::move(s.done);
}

}  // namespace troupe
