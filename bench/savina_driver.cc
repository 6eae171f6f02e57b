#include "bench/savina_driver.h"

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, bench, "all", "pingpong | ring | fanin | fjthrput | create | all");
ABSL_FLAG(int64_t, n, 0, "messages (or actors for create); 0 = the workload's default");
ABSL_FLAG(int, threads, 2, "worker threads");
ABSL_FLAG(int, reps, 1, "repetitions of each workload");

namespace troupe::bench {
namespace {

struct Workload {
  const char* name;
  int64_t default_n;
  int64_t granularity;  // n is rounded down to a multiple of this
};

// Defaults keep troupe's runs near 0.5 s; create stays at 200k because CAF 0.17's spawn slows
// down superlinearly beyond that, which would flatter troupe.
constexpr Workload kWorkloads[] = {
    {"pingpong", 10'000'000, 2},  // N/2 round trips
    {"ring", 10'000'000, 1},      // 503 actors
    {"fanin", 10'000'000, 100},   // 100 producers
    {"fjthrput", 6'000'000, 60},  // 60 workers
    {"create", 200'000, 1},
};

}  // namespace

int RunSavina(int argc, char** argv, std::string_view runtime_name, const RunWorkload& run) {
  absl::SetProgramUsageMessage(
      absl::StrCat("Savina-style actor benchmarks on ", std::string(runtime_name)));
  absl::ParseCommandLine(argc, argv);
  const std::string which = absl::GetFlag(FLAGS_bench);
  const int threads = absl::GetFlag(FLAGS_threads);
  const int reps = absl::GetFlag(FLAGS_reps);
  const int64_t flag_n = absl::GetFlag(FLAGS_n);
  if (threads < 1 || reps < 1) {
    std::fprintf(stderr, "--threads and --reps must be >= 1\n");
    return 2;
  }
  bool matched = false;
  for (const Workload& w : kWorkloads) {
    if (which != "all" && which != w.name) continue;
    matched = true;
    const int64_t n = (flag_n > 0 ? flag_n : w.default_n) / w.granularity * w.granularity;
    if (n <= 0) {
      std::fprintf(stderr, "%s: --n=%lld is too small\n", w.name, static_cast<long long>(flag_n));
      return 2;
    }
    for (int rep = 0; rep < reps; ++rep) {
      const double seconds = run(w.name, n, threads);
      std::printf("%s n=%lld threads=%d seconds=%.4f msgs_per_s=%.0f\n", w.name,
                  static_cast<long long>(n), threads, seconds, n / seconds);
      std::fflush(stdout);
    }
  }
  if (!matched) {
    std::fprintf(stderr, "unknown --bench=%s (pingpong|ring|fanin|fjthrput|create|all)\n",
                 which.c_str());
    return 2;
  }
  return 0;
}

}  // namespace troupe::bench
