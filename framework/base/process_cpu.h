// ProcessCpuSeconds(): user + system CPU time the whole process has used so far. Used to check
// that an idle system burns no CPU and, in benchmarks, to report CPU time per operation.
#ifndef FRAMEWORK_BASE_PROCESS_CPU_H_
#define FRAMEWORK_BASE_PROCESS_CPU_H_

#include <sys/resource.h>

namespace troupe {

inline double ProcessCpuSeconds() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
         usage.ru_stime.tv_usec / 1e6;
}

}  // namespace troupe

#endif  // FRAMEWORK_BASE_PROCESS_CPU_H_
