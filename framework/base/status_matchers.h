// GoogleTest matchers for absl::Status and absl::StatusOr (testonly).
//
//   EXPECT_THAT(DoThing(), IsOk());
//   EXPECT_THAT(Lookup("x"), StatusIs(absl::StatusCode::kNotFound));
//   EXPECT_THAT(Compute(), IsOkAndHolds(42));
#ifndef FRAMEWORK_BASE_STATUS_MATCHERS_H_
#define FRAMEWORK_BASE_STATUS_MATCHERS_H_

#include <gmock/gmock.h>

#include <ostream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace troupe::testing {
namespace internal {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace internal

MATCHER(IsOk, "is OK") {
  const absl::Status& s = internal::GetStatus(arg);
  if (!s.ok()) *result_listener << "status is " << s;
  return s.ok();
}

MATCHER_P(StatusIs, code, "has status code " + absl::StatusCodeToString(code)) {
  const absl::Status& s = internal::GetStatus(arg);
  if (s.code() != code) *result_listener << "status is " << s;
  return s.code() == code;
}

MATCHER_P(IsOkAndHolds, value, "is OK and holds a value that matches") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(value, *arg, result_listener);
}

}  // namespace troupe::testing

#endif  // FRAMEWORK_BASE_STATUS_MATCHERS_H_
