#include "actors/metrics/metrics_server.h"

#include <atomic>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "actors/tcp/tcp_stream.h"
#include "framework/log/log.h"

namespace troupe {

struct MetricsServer::Counters {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> refused{0};
};

namespace {

std::string Response(int code, absl::string_view reason, absl::string_view content_type,
                     absl::string_view body, bool head, bool keep_alive) {
  std::string out = absl::StrCat("HTTP/1.1 ", code, " ", reason, "\r\nContent-Type: ",
                                 content_type, "\r\nContent-Length: ", body.size(), "\r\n",
                                 keep_alive ? "" : "Connection: close\r\n", "\r\n");
  if (!head) out.append(body.data(), body.size());
  return out;
}

// One HTTP connection: parses requests as they arrive and answers each in order.
class MetricsConnection
    : public Actor<MetricsConnection, Protocol<TcpReceived, TcpClosed, TcpWritable>> {
 public:
  MetricsConnection(TcpStream stream, HttpLimits limits,
                    std::shared_ptr<MetricsServer::Counters> counters)
      : stream_(std::move(stream)), parser_(limits), counters_(std::move(counters)) {}

  void OnStart() override { stream_.Start(self()); }
  void Handle(TcpReceived m) {
    if (closing_) return;
    absl::StatusOr<std::vector<HttpRequest>> requests = parser_.Feed(m.bytes);
    if (!requests.ok()) {
      const bool too_big = requests.status().code() == absl::StatusCode::kResourceExhausted;
      counters_->refused.fetch_add(1, std::memory_order_relaxed);
      Answer(Response(too_big ? 431 : 400,
                      too_big ? "Request Header Fields Too Large" : "Bad Request",
                      "text/plain; charset=utf-8",
                      absl::StrCat(requests.status().message(), "\n"), false, false),
             false);
      return;
    }
    for (const HttpRequest& r : *requests) {
      Serve(r);
      if (closing_) return;
    }
  }
  void Handle(TcpWritable) {}
  void Handle(TcpClosed) { ctx().Stop(); }

 private:
  void Serve(const HttpRequest& r) {
    counters_->requests.fetch_add(1, std::memory_order_relaxed);
    const bool head = r.method == "HEAD";
    if (r.method != "GET" && !head) {
      Answer(Response(405, "Method Not Allowed", "text/plain; charset=utf-8",
                      "only GET and HEAD\n", false, r.keep_alive),
             r.keep_alive);
    } else if (r.path == "/metrics") {
      Answer(Response(200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                      ctx().system().metrics().TextFormat(), head, r.keep_alive),
             r.keep_alive);
    } else if (r.path == "/healthz") {
      Answer(Response(200, "OK", "text/plain; charset=utf-8", "ok\n", head, r.keep_alive),
             r.keep_alive);
    } else {
      Answer(Response(404, "Not Found", "text/plain; charset=utf-8",
                      "not found: try /metrics or /healthz\n", head, r.keep_alive),
             r.keep_alive);
    }
  }
  void Answer(const std::string& response, bool keep_alive) {
    if (!stream_.Write(response).ok() || !keep_alive) {
      closing_ = true;
      stream_.Close();  // after what is queued has gone out
    }
  }

  TcpStream stream_;
  HttpRequestParser parser_;
  std::shared_ptr<MetricsServer::Counters> counters_;
  bool closing_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(ActorSystem& system,
                                                                   MetricsServerOptions options) {
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->counters_ = std::make_shared<Counters>();
  TcpListenerOptions listen;
  listen.host = options.host;
  listen.port = options.port;
  listen.max_connections = options.max_connections;
  listen.stream.first_frame_timeout = options.first_request_timeout;
  listen.stream.idle_timeout = options.idle_timeout;
  // A scrape's answer can be large; a client that does not read it is closed at 8 MiB queued.
  listen.stream.max_unprocessed_bytes = 64 << 10;
  ActorSystem* sys = &system;
  auto counters = server->counters_;
  const HttpLimits limits = options.limits;
  auto listener = TcpListener::Listen(system, listen, [sys, limits, counters](TcpStream s) {
    (void)sys->Spawn<MetricsConnection>(std::move(s), limits, counters);
  });
  if (!listener.ok()) return listener.status();
  server->listener_ = *std::move(listener);
  if (options.host != "127.0.0.1" && options.host != "::1" && options.host != "localhost") {
    Log(absl::LogSeverity::kWarning, "metrics served beyond loopback (plaintext HTTP, read-only)",
        {{"host", options.host}, {"port", server->listener_->port()}});
  }
  return server;
}

MetricsServer::~MetricsServer() {
  if (listener_) listener_->Stop();
}

MetricsServerStats MetricsServer::stats() const {
  return {counters_->requests.load(std::memory_order_relaxed),
          counters_->refused.load(std::memory_order_relaxed)};
}

}  // namespace troupe
