#include "io/backend_selector.h"

#include "framework/base/status_matchers.h"
#include "gtest/gtest.h"

namespace troupe {
namespace {

using ::troupe::testing::IsOk;
using ::troupe::testing::IsOkAndHolds;
using ::troupe::testing::StatusIs;

TEST(BackendSelectorTest, ParsesTheFlagValues) {
  EXPECT_THAT(ParseIoBackendKind("epoll"), IsOkAndHolds(IoBackendKind::kEpoll));
  EXPECT_THAT(ParseIoBackendKind("uring"), IsOkAndHolds(IoBackendKind::kUring));
  EXPECT_THAT(ParseIoBackendKind("auto"), IsOkAndHolds(IoBackendKind::kAuto));
  auto bad = ParseIoBackendKind("kqueue");
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(bad.status().message().find("epoll, uring or auto"), absl::string_view::npos);
}

TEST(BackendSelectorTest, AutoFallsBackToEpollWhenTheProbeFails) {
  IoBackendOptions options;
  options.kind = IoBackendKind::kAuto;
  options.fake_uring_probe = absl::UnimplementedError("io_uring_setup: Operation not permitted");
  auto kind = ResolveIoBackendKind(options);
  ASSERT_THAT(kind, IsOkAndHolds(IoBackendKind::kEpoll));
  auto backend = MakeIoBackend(*kind, options);
  ASSERT_THAT(backend, IsOk());
  EXPECT_EQ((*backend)->name(), "epoll");
}

TEST(BackendSelectorTest, UringFailsStartUpClearlyWhenUnavailable) {
  IoBackendOptions options;
  options.kind = IoBackendKind::kUring;
  options.fake_uring_probe = absl::UnimplementedError("io_uring_setup: Operation not permitted");
  auto kind = ResolveIoBackendKind(options);
  EXPECT_THAT(kind, StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_NE(kind.status().message().find("--backend=epoll"), absl::string_view::npos);
}

TEST(BackendSelectorTest, EpollNeverProbes) {
  IoBackendOptions options;
  options.kind = IoBackendKind::kEpoll;
  options.fake_uring_probe = absl::InternalError("must not be consulted");
  EXPECT_THAT(ResolveIoBackendKind(options), IsOkAndHolds(IoBackendKind::kEpoll));
}

TEST(BackendSelectorTest, RealProbeAgreesWithRingCreation) {
  const absl::Status probe = ProbeProactor();
  IoBackendOptions options;
  options.kind = IoBackendKind::kUring;
  auto kind = ResolveIoBackendKind(options);
  EXPECT_EQ(kind.ok(), probe.ok()) << probe;
  if (!probe.ok()) GTEST_SKIP() << "io_uring unavailable here: " << probe;
  auto backend = MakeIoBackend(*kind, options);
  ASSERT_THAT(backend, IsOk());
  EXPECT_EQ((*backend)->name(), "io_uring");
}

}  // namespace
}  // namespace troupe
