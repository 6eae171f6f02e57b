// The metrics flags every troupe sample server shares (Abseil flags):
//
//   --metrics_port=9100        serve /metrics and /healthz on this port (-1: off; 0: pick one)
//   --metrics_host=127.0.0.1   the address it listens on
//   --measured_actor_types=A,B per-type actor metrics for these types (* for all; see
//                              framework/actor/type_metrics.h)
//
// Linking this library defines the flags; a binary calls StartMetricsFromFlags after
// absl::ParseCommandLine and keeps the result until before its ActorSystem shuts down.
//
// Thread safety: from the main thread.
#ifndef ACTORS_METRICS_METRICS_FLAGS_H_
#define ACTORS_METRICS_METRICS_FLAGS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "actors/metrics/metrics_server.h"

namespace troupe {

// For ActorSystemOptions::measured_actor_types (before the system is made).
std::vector<std::string> MeasuredActorTypesFromFlags();

// Null (and OK) with --metrics_port=-1. Prints "metrics on port P" when it serves.
absl::StatusOr<std::unique_ptr<MetricsServer>> StartMetricsFromFlags(ActorSystem& system);

}  // namespace troupe

#endif  // ACTORS_METRICS_METRICS_FLAGS_H_
