// TypeName<T>(): a readable, compile-time name of a C++ type ("troupe::Foo"), used in
// dead-letter reports and diagnostics. No RTTI, no demangler.
#ifndef FRAMEWORK_BASE_TYPE_NAME_H_
#define FRAMEWORK_BASE_TYPE_NAME_H_

#include <string_view>

namespace troupe {

template <typename T>
constexpr std::string_view TypeName() {
  // g++: "constexpr std::string_view troupe::TypeName() [with T = Foo; std::string_view = ...]"
  std::string_view name = __PRETTY_FUNCTION__;
  const std::string_view key = "T = ";
  const auto start = name.find(key);
  if (start == std::string_view::npos) return name;
  name.remove_prefix(start + key.size());
  const auto end = name.find_first_of(";]");
  return name.substr(0, end);
}

// The same, guaranteed to be computed at compile time (use this on hot paths).
template <typename T>
inline constexpr std::string_view kTypeName = TypeName<T>();

}  // namespace troupe

#endif  // FRAMEWORK_BASE_TYPE_NAME_H_
