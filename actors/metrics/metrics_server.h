// MetricsServer: an ActorSystem's metrics over HTTP, for Prometheus and for people.
//
//   auto metrics = troupe::MetricsServer::Start(system, {.port = 9100});   // 127.0.0.1:9100
//   // curl 127.0.0.1:9100/metrics  -> Prometheus' text format (system.metrics())
//   // curl 127.0.0.1:9100/healthz  -> "ok"
//
// Served by actors on troupe's own TCP layer (one MetricsConnection actor per connection), so it
// inherits the listener's limits: at most `max_connections` open, a first request within
// `first_request_timeout`, closed after `idle_timeout` without a request. Requests are parsed
// by Node.js's http_parser (HttpRequestParser): GET or HEAD of /metrics or /healthz; any other
// path is 404, any other method 405; a malformed or oversized request gets 400 or 431 and the
// connection closes. Keep-alive and pipelining as HTTP/1.1 says. It listens on 127.0.0.1 unless
// `host` says otherwise (the figures are read-only, but they describe your service: expose them
// only where your Prometheus runs).
//
// Thread safety: Start and the destructor from a thread that is not a worker of the system;
// port() from any thread. Destroy it before its ActorSystem.
#ifndef ACTORS_METRICS_METRICS_SERVER_H_
#define ACTORS_METRICS_METRICS_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "actors/metrics/http_request_parser.h"
#include "actors/tcp/tcp_listener.h"

namespace troupe {

struct MetricsServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: pick one (see port())
  int64_t max_connections = 64;
  absl::Duration first_request_timeout = absl::Seconds(10);
  absl::Duration idle_timeout = absl::Minutes(5);
  HttpLimits limits;
};

struct MetricsServerStats {
  uint64_t requests = 0;   // answered, any status
  uint64_t refused = 0;    // malformed or oversized: answered 400/431 and closed
};

class MetricsServer {
 public:
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(ActorSystem& system,
                                                              MetricsServerOptions options);
  ~MetricsServer();

  int port() const { return listener_->port(); }
  MetricsServerStats stats() const;

  struct Counters;

 private:
  MetricsServer() = default;
  std::shared_ptr<Counters> counters_;
  std::unique_ptr<TcpListener> listener_;
};

}  // namespace troupe

#endif  // ACTORS_METRICS_METRICS_SERVER_H_
