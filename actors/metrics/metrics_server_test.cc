// MetricsServer over real loopback connections: /metrics in Prometheus' format with the
// system's and a user's metrics, /healthz, HEAD, 404 and 405, keep-alive with pipelining, and
// garbage and oversized requests answered 400/431 and closed while other scrapes go on.
#include "actors/metrics/metrics_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "io/testing/loopback_client.h"

namespace troupe {
namespace {

// Appends what arrives within 50 ms; false once the server closed.
bool RecvSome(int fd, std::string& out) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 50) <= 0) return true;
  char buf[65536];
  const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  if (n <= 0) return false;
  out.append(buf, n);
  return true;
}

// Everything the server sends until it closes (or `timeout`).
std::string ReadAll(int fd, absl::Duration timeout = absl::Seconds(5)) {
  std::string out;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline && RecvSome(fd, out)) {
  }
  return out;
}

// Reads until `responses` complete HTTP responses (by Content-Length) arrived.
std::string ReadResponses(int fd, int responses) {
  std::string out;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  auto complete = [&] {
    size_t at = 0;
    for (int i = 0; i < responses; ++i) {
      const size_t end = out.find("\r\n\r\n", at);
      if (end == std::string::npos) return false;
      const size_t cl = out.find("Content-Length: ", at);
      if (cl == std::string::npos || cl > end) return false;
      const size_t length = std::stoul(out.substr(cl + 16));
      at = end + 4 + length;
      if (out.size() < at) return false;
    }
    return true;
  };
  while (!complete() && absl::Now() < deadline && RecvSome(fd, out)) {
  }
  return out;
}

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = MetricsServer::Start(system_, {.port = 0});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  void TearDown() override { server_.reset(); }
  int Connect() { return ::troupe::testing::ConnectLoopback(server_->port()); }
  std::string Get(const std::string& request) {
    const int fd = Connect();
    EXPECT_TRUE(::troupe::testing::SendAll(fd, request));
    std::string response = ReadAll(fd);
    ::close(fd);
    return response;
  }

  ActorSystem system_{ActorSystemOptions{.threads = 2}};
  std::unique_ptr<MetricsServer> server_;
};

TEST_F(MetricsServerTest, ServesTheSystemsMetricsAndHealth) {
  system_.metrics().AddCounter("shop_orders_total", "Orders.", {"kind"}).With({"express"}).Add(42);
  const std::string r = Get("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(r, ::testing::StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(r, ::testing::HasSubstr("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  EXPECT_THAT(r, ::testing::HasSubstr("\r\n\r\n# HELP "));
  EXPECT_THAT(r, ::testing::HasSubstr("shop_orders_total{kind=\"express\"} 42\n"));
  EXPECT_THAT(r, ::testing::HasSubstr("troupe_actors_live "));
  EXPECT_THAT(r, ::testing::HasSubstr("troupe_worker_turns_total{worker=\"0\"} "));
  const size_t body = r.find("\r\n\r\n") + 4;
  const size_t cl = r.find("Content-Length: ");
  EXPECT_EQ(std::stoul(r.substr(cl + 16)), r.size() - body);

  EXPECT_EQ(Get("GET /healthz HTTP/1.0\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n"
            "Connection: close\r\n\r\nok\n");
  EXPECT_EQ(Get("HEAD /healthz HTTP/1.0\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n"
            "Connection: close\r\n\r\n");
  EXPECT_THAT(Get("GET /secrets HTTP/1.0\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 404 "));
  EXPECT_THAT(Get("DELETE /metrics HTTP/1.0\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 405 "));
}

TEST_F(MetricsServerTest, KeepAliveAnswersPipelinedRequestsInOrder) {
  const int fd = Connect();
  ASSERT_TRUE(::troupe::testing::SendAll(
      fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  const std::string r = ReadResponses(fd, 3);
  const size_t first = r.find("HTTP/1.1 200");
  const size_t second = r.find("HTTP/1.1 404", first + 1);
  const size_t third = r.find("HTTP/1.1 200", second + 1);
  EXPECT_NE(first, std::string::npos);
  EXPECT_NE(second, std::string::npos);
  EXPECT_NE(third, std::string::npos);
  EXPECT_THAT(r, ::testing::Not(::testing::HasSubstr("Connection: close")));
  ::close(fd);
  EXPECT_EQ(server_->stats().requests, 3u);
}

TEST_F(MetricsServerTest, GarbageAndOversizedRequestsAreRefusedAndClosed) {
  EXPECT_THAT(Get(std::string("\x16\x03\x01\x02\x00\x01\x00garbage", 14)),
              ::testing::StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_THAT(Get("GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n"),
              ::testing::StartsWith("HTTP/1.1 431 "));
  std::string headers = "GET /metrics HTTP/1.1\r\n";
  for (int i = 0; i < 1000; ++i) headers += "X-Filler: " + std::string(30, 'x') + "\r\n";
  EXPECT_THAT(Get(headers + "\r\n"), ::testing::StartsWith("HTTP/1.1 431 "));
  EXPECT_EQ(server_->stats().refused, 3u);
  // And the server goes on serving.
  EXPECT_THAT(Get("GET /healthz HTTP/1.0\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 200 OK"));
}

}  // namespace
}  // namespace troupe
