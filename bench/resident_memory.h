// ResidentBytes(): the process's resident set size, from /proc/self/statm.
#ifndef BENCH_RESIDENT_MEMORY_H_
#define BENCH_RESIDENT_MEMORY_H_

#include <unistd.h>

#include <cstdint>
#include <cstdio>

namespace troupe::bench {

inline int64_t ResidentBytes() {
  long pages_total = 0, pages_resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  const int read = std::fscanf(f, "%ld %ld", &pages_total, &pages_resident);
  std::fclose(f);
  return read == 2 ? static_cast<int64_t>(pages_resident) * sysconf(_SC_PAGESIZE) : -1;
}

}  // namespace troupe::bench

#endif  // BENCH_RESIDENT_MEMORY_H_
