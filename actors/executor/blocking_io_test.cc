#include "actors/executor/blocking_io.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "framework/base/status_matchers.h"

namespace troupe {
namespace {

using ::troupe::testing::IsOk;
using ::troupe::testing::IsOkAndHolds;
using ::troupe::testing::StatusIs;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

TEST(BlockingIoTest, WriteAppendRead) {
  const std::string path = TempPath("history.log");
  ASSERT_THAT(WriteWholeFile(path, "one\n"), IsOk());
  ASSERT_THAT(AppendToFile(path, "two\n"), IsOk());
  ASSERT_THAT(AppendToFile(path, "three\n"), IsOk());
  EXPECT_THAT(ReadWholeFile(path), IsOkAndHolds("one\ntwo\nthree\n"));
  ASSERT_THAT(WriteWholeFile(path, "fresh"), IsOk());  // truncates
  EXPECT_THAT(ReadWholeFile(path), IsOkAndHolds("fresh"));
}

TEST(BlockingIoTest, LargeFilesRoundTrip) {
  const std::string path = TempPath("large.bin");
  std::string data(1 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  ASSERT_THAT(WriteWholeFile(path, data), IsOk());
  EXPECT_THAT(ReadWholeFile(path), IsOkAndHolds(data));
}

TEST(BlockingIoTest, ErrorsFollowErrno) {
  EXPECT_THAT(ReadWholeFile(TempPath("does-not-exist")), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(WriteWholeFile(TempPath("no-such-dir/file"), "x"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_FALSE(
      ReadWholeFile(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp").ok());
}

TEST(BlockingIoTest, ResolvesLocalhostWithoutANetwork) {
  auto addresses = ResolveHost("localhost");
  ASSERT_THAT(addresses, IsOk());
  EXPECT_THAT(*addresses,
              ::testing::AnyOf(::testing::Contains("127.0.0.1"), ::testing::Contains("::1")));
  EXPECT_FALSE(ResolveHost("no-such-host.invalid").ok());
}

}  // namespace
}  // namespace troupe
