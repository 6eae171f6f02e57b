// The part of the Savina-style benchmarks that troupe's and CAF's binaries share: the command
// line (--bench, --n, --threads, --reps), the workload list with its default sizes, and the
// output line, so both sides always run the same workloads at the same N.
//
//   NAME n=N threads=T seconds=S msgs_per_s=X      (one line per workload and repetition)
#ifndef BENCH_SAVINA_DRIVER_H_
#define BENCH_SAVINA_DRIVER_H_

#include <cstdint>
#include <functional>
#include <string_view>

namespace troupe::bench {

// Runs one repetition of workload `name` with `n` messages (or actors) on `threads` threads and
// returns its timed seconds.
using RunWorkload = std::function<double(std::string_view name, int64_t n, int threads)>;

// Parses the flags and runs the selected workloads; returns the process exit code (2 for a bad
// command line).
int RunSavina(int argc, char** argv, std::string_view runtime_name, const RunWorkload& run);

}  // namespace troupe::bench

#endif  // BENCH_SAVINA_DRIVER_H_
