// GrpcServerMetrics: every call a GrpcGateway serves, counted in the system's metrics by full
// method name and status code, with its latency:
//
//   troupe_grpc_server_handled_total{method="/pkg.Service/Method",code="OK"}
//   troupe_grpc_server_handling_seconds{method="..."}   (histogram, from the call's start to
//                                                          the status being sent)
//
// (The names follow go-grpc-prometheus' grpc_server_handled_total, under troupe's prefix.)
// The gateway records each call here - its server interceptor on gRPC's threads
// (call_interceptor.h), its call object on the worker queues - calls to methods nobody serves
// under method="unknown". A method's metric children are looked up once and kept, so a call
// costs one short lock and two uncontended atomic adds.
//
// Thread safety: Record from any thread.
#ifndef ACTORS_GRPC_GRPC_METRICS_H_
#define ACTORS_GRPC_GRPC_METRICS_H_

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "framework/base/mutex.h"
#include "framework/metrics/metrics.h"

namespace troupe {

class GrpcServerMetrics {
 public:
  explicit GrpcServerMetrics(metrics::Registry& registry);
  // `code`: a grpc::StatusCode (0..16; others are counted as UNKNOWN).
  void Record(absl::string_view method, int code, absl::Duration took);

 private:
  static constexpr int kCodes = 17;
  struct Method {
    std::array<metrics::Counter*, kCodes> handled{};  // by code, made on first use
    metrics::Histogram* seconds = nullptr;
  };
  metrics::Family<metrics::Counter>& handled_;
  metrics::Family<metrics::Histogram>& seconds_;
  Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Method>> methods_ ABSL_GUARDED_BY(mu_);
};

}  // namespace troupe

#endif  // ACTORS_GRPC_GRPC_METRICS_H_
