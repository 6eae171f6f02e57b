// HttpRequestParser: requests split anywhere, pipelined, keep-alive rules, and what is refused:
// garbage, oversized request lines, headers and bodies, upgrades; a failed parser stays failed.
#include "actors/metrics/http_request_parser.h"

#include <string>

#include "framework/base/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace troupe {
namespace {

using ::troupe::testing::IsOk;
using ::troupe::testing::StatusIs;

TEST(HttpRequestParserTest, RequestsSplitAnywhereAndPipelined) {
  const std::string two =
      "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n"
      "HEAD /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  for (size_t split = 0; split <= two.size(); ++split) {
    HttpRequestParser p;
    std::vector<HttpRequest> all;
    for (std::string_view part : {std::string_view(two).substr(0, split),
                                  std::string_view(two).substr(split)}) {
      auto got = p.Feed(part);
      ASSERT_THAT(got, IsOk());
      for (auto& r : *got) all.push_back(r);
    }
    ASSERT_EQ(all.size(), 2u) << split;
    EXPECT_EQ(all[0].method, "GET");
    EXPECT_EQ(all[0].path, "/metrics");
    EXPECT_TRUE(all[0].keep_alive);
    EXPECT_EQ(all[1].method, "HEAD");
    EXPECT_EQ(all[1].path, "/healthz");
    EXPECT_FALSE(all[1].keep_alive);
  }
}

TEST(HttpRequestParserTest, Http10ClosesUnlessAskedToKeepAlive) {
  HttpRequestParser a;
  auto r = a.Feed("GET / HTTP/1.0\r\n\r\n");
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_FALSE((*r)[0].keep_alive);
  HttpRequestParser b;
  r = b.Feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE((*r)[0].keep_alive);
}

TEST(HttpRequestParserTest, GarbageIsRefusedAndTheParserStaysFailed) {
  HttpRequestParser p;
  EXPECT_THAT(p.Feed("\x16\x03\x01\x02\x00 hello"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(p.Feed("GET / HTTP/1.1\r\n\r\n"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HttpRequestParserTest, OversizedHeadersAndBodiesAreRefusedBeforeTheyGrow) {
  HttpRequestParser line({.max_header_bytes = 1024});
  EXPECT_THAT(line.Feed("GET /" + std::string(2000, 'a') + " HTTP/1.1\r\n\r\n"),
              StatusIs(absl::StatusCode::kResourceExhausted));
  HttpRequestParser headers({.max_header_bytes = 1024});
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) many += "X-Filler: " + std::string(20, 'x') + "\r\n";
  EXPECT_THAT(headers.Feed(many), StatusIs(absl::StatusCode::kResourceExhausted));
  HttpRequestParser body({.max_body_bytes = 100});
  EXPECT_THAT(body.Feed("POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'b')),
              StatusIs(absl::StatusCode::kResourceExhausted));
  HttpRequestParser small_body({.max_body_bytes = 100});
  auto ok = small_body.Feed("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_THAT(ok, IsOk());
  EXPECT_EQ((*ok)[0].method, "POST");
}

TEST(HttpRequestParserTest, UpgradesAreRefused) {
  HttpRequestParser p;
  EXPECT_THAT(p.Feed("GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace troupe
