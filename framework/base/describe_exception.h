// DescribeException(): the message of an exception caught with catch (...), for error
// statuses and failure reports.
#ifndef FRAMEWORK_BASE_DESCRIBE_EXCEPTION_H_
#define FRAMEWORK_BASE_DESCRIBE_EXCEPTION_H_

#include <exception>
#include <string>

namespace troupe {

inline std::string DescribeException(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "a non-standard exception";
  }
}

}  // namespace troupe

#endif  // FRAMEWORK_BASE_DESCRIBE_EXCEPTION_H_
