// What tests read about their own process: resident memory and open file descriptors.
#ifndef FRAMEWORK_TESTING_PROCESS_STATS_H_
#define FRAMEWORK_TESTING_PROCESS_STATS_H_

#include <filesystem>
#include <fstream>
#include <string>

namespace troupe::testing {

// Resident set size (VmRSS), in KiB.
inline long RssKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// Descriptors open in this process (the directory iterator's own included).
inline int OpenFds() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

}  // namespace troupe::testing

#endif  // FRAMEWORK_TESTING_PROCESS_STATS_H_
