#include "actors/metrics/metrics_flags.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"

ABSL_FLAG(int, metrics_port, -1,
          "serve Prometheus metrics (/metrics) and /healthz on this port (-1: off, 0: pick one)");
ABSL_FLAG(std::string, metrics_host, "127.0.0.1", "the address the metrics port listens on");
ABSL_FLAG(std::vector<std::string>, measured_actor_types, {},
          "actor types measured per type (messages, handler latency, mailbox depth), by the "
          "names the metrics show, comma-separated; * for all");

namespace troupe {

std::vector<std::string> MeasuredActorTypesFromFlags() {
  return absl::GetFlag(FLAGS_measured_actor_types);
}

absl::StatusOr<std::unique_ptr<MetricsServer>> StartMetricsFromFlags(ActorSystem& system) {
  const int port = absl::GetFlag(FLAGS_metrics_port);
  if (port < 0) return nullptr;
  auto server =
      MetricsServer::Start(system, {.host = absl::GetFlag(FLAGS_metrics_host), .port = port});
  if (!server.ok()) return server.status();
  std::printf("metrics on port %d\n", (*server)->port());
  std::fflush(stdout);
  return server;
}

}  // namespace troupe
