#include "io/socket/socket.h"

#include <errno.h>
#include <unistd.h>

#include "framework/base/status_matchers.h"
#include "gtest/gtest.h"

namespace troupe {
namespace {

using ::troupe::testing::IsOk;
using ::troupe::testing::StatusIs;

TEST(SocketTest, ParsesNumericAddressesOnly) {
  auto v4 = ParseAddress("127.0.0.1", 8080);
  ASSERT_THAT(v4, IsOk());
  EXPECT_EQ(v4->ToString(), "127.0.0.1:8080");
  auto v6 = ParseAddress("::1", 9);
  ASSERT_THAT(v6, IsOk());
  EXPECT_EQ(v6->ToString(), "[::1]:9");
  EXPECT_EQ(ParseAddress("localhost", 1)->ToString(), "127.0.0.1:1");
  EXPECT_THAT(ParseAddress("example.com", 80), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseAddress("127.0.0.1", 70000), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SocketTest, PortInUseIsAClearError) {
  auto first = ListenTcp(*ParseAddress("127.0.0.1", 0), 16);
  ASSERT_THAT(first, IsOk());
  const int port = LocalAddress(*first)->port();
  EXPECT_GT(port, 0);
  auto second = ListenTcp(*ParseAddress("127.0.0.1", port), 16);
  EXPECT_THAT(second, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_NE(second.status().message().find("already in use"), absl::string_view::npos);
  ::close(*first);
}

TEST(SocketTest, ErrnoMapping) {
  EXPECT_THAT(ErrnoToStatus(ECONNRESET, "recv"), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(ErrnoToStatus(EMFILE, "accept"), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(ErrnoToStatus(ETIMEDOUT, "connect"), StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_EQ(ErrnoToStatus(EPIPE, "send").message(), "send: Broken pipe");
}

}  // namespace
}  // namespace troupe
