// Remote ping-pong: two processes, each an actor system, sending to each other's actors.
//
//   bazel run //examples/remote:node -- --listen=127.0.0.1:7100     # terminal 1
//   bazel run //examples/remote:node -- --peer=127.0.0.1:7100 --pings=5 --messages=100000
//
// The serving node exports two actors: "ponger" answers each Ping ask with a Pong, and
// "counter" (a PingCounter) counts the Pings told to it and whether they came in order. The
// other node holds references to them (RemoteNode::Ref) and uses them like local actors:
//   --pings=N       N ping-pong round trips (asks), one after the other, with their latency;
//   --messages=M    M Pings told to "counter" as fast as the link takes them, then one ask for
//                   the count: prints messages/s and exits non-zero unless all M arrived in
//                   order, once;
//   --seconds=S     tells Pings to "counter" for S seconds at --rate per second, surviving a
//                   restart of the peer, then prints one JSON line (sent, acked, dead letters,
//                   what the peer counted);
//   --grpc_port=P   then serves gRPC troupe.examples.Pinger/Ask on P (127.0.0.1, or --grpc_host)
//                   until SIGINT/SIGTERM, each call asked of the peer's ponger: a caller's W3C
//                   `traceparent` follows the call to the other node (--trace_file on both
//                   writes the spans; the ponger's log lines carry the trace id).
// A serving node prints "node listening on port P", the first ask from each node (who the
// ponger was asked by: FromNode<Ping>), and, on SIGINT/SIGTERM, what its counter received
// ("counter: received R, out of order O, duplicates D").
//
// Mutual TLS between the two (actors/tls/tls_flags.h): give both --tls_cert, --tls_key, --tls_ca
// (tools/dev_certs DIR node-a node-b makes them) and a --name their certificate carries;
// --tls_identity=NAME makes the dialing node require that name of the peer's certificate, and
// --allow=NAME,... limits who may reach the serving node's actors.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/clock.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "actors/grpc/gateway.h"
#include "actors/metrics/metrics_flags.h"
#include "actors/remote/remote_node.h"
#include "actors/tls/tls_flags.h"
#include "actors/remote/testing/ping_counter.h"
#include "framework/base/stop_signals.h"
#include "framework/system/actor_system.h"
#include "framework/log/log.h"
#include "framework/trace/trace_flags.h"
#include "proto/ping.grpc.pb.h"
#include "proto/ping.pb.h"

ABSL_FLAG(std::string, name, "", "this node's name (default: serving or client)");
ABSL_FLAG(std::string, listen, "", "serve peers on host:port (port 0: pick one)");
ABSL_FLAG(std::string, peer, "", "the serving node's host:port");
ABSL_FLAG(int, pings, 0, "ping-pong round trips to make with the peer's ponger");
ABSL_FLAG(int64_t, messages, 0, "Pings to tell the peer's counter, as fast as possible");
ABSL_FLAG(double, seconds, 0, "tell Pings for this long at --rate, across peer restarts");
ABSL_FLAG(int, rate, 2000, "Pings per second with --seconds");
ABSL_FLAG(int, threads, 0, "worker threads (0 = one per core)");
ABSL_FLAG(int, grpc_port, -1,
          "with --peer: serve troupe.examples.Pinger/Ask on this port, asking the peer's "
          "ponger (0: pick one; -1: off)");
ABSL_FLAG(std::string, grpc_host, "127.0.0.1", "the address --grpc_port listens on");
ABSL_FLAG(std::string, allow, "",
          "serving: only these node identities (comma-separated certificate names) may reach "
          "the exported actors (needs TLS; default: every node our CA admits)");

namespace {

using troupe::examples::CountPings;
using troupe::examples::Ping;
using troupe::examples::PingCount;
using troupe::testing::PingCounter;
using troupe::testing::PingCounterProtocol;
using troupe::examples::Pong;

// What the dialing node sees of the ponger; the serving node's own Protocol takes the same
// Pings as FromNode<Ping>, to learn which node sent each.
using PongerProtocol = troupe::Protocol<troupe::Request<Ping, Pong>>;
using ServingPongerProtocol = troupe::Protocol<troupe::Request<troupe::FromNode<Ping>, Pong>>;
class Ponger : public troupe::Actor<Ponger, ServingPongerProtocol> {
 public:
  Pong Handle(troupe::FromNode<Ping> ping) {
    if (seen_.insert(ping.node).second) {
      std::printf("ponger: asked by node '%s' (%s)\n", ping.node.c_str(),
                  ping.peer.ToString().c_str());
      std::fflush(stdout);
      // In a traced call's path, this line carries its trace id.
      troupe::Log(absl::LogSeverity::kInfo, "ponger: first ask from a node",
                  {{"node", ping.node}, {"seq", ping.message.seq()}});
    }
    Pong pong;
    pong.set_seq(ping.message.seq());
    return pong;
  }

 private:
  absl::flat_hash_set<std::string> seen_;
};

Ping MakePing(uint64_t seq) {
  Ping ping;
  ping.set_seq(seq);
  return ping;
}

int Serve(troupe::ActorSystem& system, troupe::RemoteNode& node) {
  auto counter = system.Spawn<PingCounter>().value();
  troupe::AccessPolicy access;
  for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_allow), ',', absl::SkipEmpty())) {
    access.allow.emplace_back(name);
  }
  for (absl::Status s : {node.Export("ponger", system.Spawn<Ponger>().value(), access),
                         node.Export("counter", counter, access)}) {
    if (!s.ok()) {
      std::fprintf(stderr, "node: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  auto metrics = troupe::StartMetricsFromFlags(system);
  if (!metrics.ok()) {
    std::fprintf(stderr, "node: %s\n", metrics.status().ToString().c_str());
    return 1;
  }
  std::printf("node listening on port %d\n", node.port());
  std::fflush(stdout);
  troupe::WaitForStopSignal();
  metrics->reset();
  node.Shutdown();
  absl::StatusOr<PingCount> count = system.Ask(counter, CountPings(), absl::Seconds(5)).get();
  if (!count.ok()) return 1;
  const troupe::RemoteNodeStats s = node.stats();
  std::printf("counter: received %llu, out of order %llu, duplicates %llu; rejected %llu\n",
              static_cast<unsigned long long>(count->received()),
              static_cast<unsigned long long>(count->out_of_order()),
              static_cast<unsigned long long>(count->duplicates()),
              static_cast<unsigned long long>(s.rejected_unknown_target + s.rejected_unknown_type +
                                              s.rejected_malformed));
  return 0;
}

int PingPong(troupe::ActorSystem& system, const troupe::ActorRef<PongerProtocol>& ponger,
             int pings) {
  for (int i = 1; i <= pings; ++i) {
    const absl::Time start = absl::Now();
    absl::StatusOr<Pong> pong = system.Ask(ponger, MakePing(i), absl::Seconds(5)).get();
    if (!pong.ok() || pong->seq() != static_cast<uint64_t>(i)) {
      std::fprintf(stderr, "node: ping %d failed: %s\n", i,
                   pong.ok() ? "wrong pong" : pong.status().ToString().c_str());
      return 1;
    }
    std::printf("pong %d in %s\n", i, absl::FormatDuration(absl::Now() - start).c_str());
  }
  return 0;
}

// The gRPC face: Pinger/Ask, each Ping asked of the peer's ponger (through its remote reference).
int ServeGrpc(troupe::ActorSystem& system, const troupe::ActorRef<PongerProtocol>& ponger) {
  troupe::GrpcGateway gateway(system);
  (void)gateway.AddUnary<Ping, Pong>(
      troupe::GrpcMethod<troupe::examples::Pinger>("Ask"), ponger);
  absl::StatusOr<int> port = gateway.Start(
      {.address = absl::StrCat(absl::GetFlag(FLAGS_grpc_host), ":", absl::GetFlag(FLAGS_grpc_port)),
       .tls = troupe::TlsServerOptionsFromFlags(),
       .allow_insecure = troupe::AllowInsecureFromFlags()});
  if (!port.ok()) {
    std::fprintf(stderr, "node: %s\n", port.status().ToString().c_str());
    return 1;
  }
  auto metrics = troupe::StartMetricsFromFlags(system);
  if (!metrics.ok()) {
    std::fprintf(stderr, "node: %s\n", metrics.status().ToString().c_str());
    return 1;
  }
  std::printf("grpc on port %d\n", *port);
  std::fflush(stdout);
  troupe::WaitForStopSignal();
  gateway.Shutdown();
  return 0;
}

int Flood(troupe::ActorSystem& system, troupe::RemoteNode& node,
          const troupe::ActorRef<PingCounterProtocol>& counter, int64_t messages) {
  // The first ask makes sure the link is up before the clock starts.
  if (!system.Ask(counter, CountPings(), absl::Seconds(10)).get().ok()) {
    std::fprintf(stderr, "node: the peer's counter does not answer\n");
    return 1;
  }
  absl::StatusOr<PingCount> first = system.Ask(counter, CountPings(), absl::Seconds(10)).get();
  if (!first.ok()) return 1;
  const PingCount before = *first;
  const absl::Time start = absl::Now();
  for (int64_t i = 1; i <= messages; ++i) counter.Tell(MakePing(before.last_seq() + i));
  absl::StatusOr<PingCount> count = system.Ask(counter, CountPings(), absl::Seconds(60)).get();
  const absl::Duration took = absl::Now() - start;
  if (!count.ok()) {
    std::fprintf(stderr, "node: count failed: %s\n", count.status().ToString().c_str());
    return 1;
  }
  const uint64_t got = count->received() - before.received();
  std::printf(
      "{\"messages\": %lld, \"received\": %llu, \"out_of_order\": %llu, "
      "\"duplicates\": %llu, \"seconds\": %.3f, \"messages_per_s\": %.0f, "
      "\"dead_letters\": %llu}\n",
      static_cast<long long>(messages), static_cast<unsigned long long>(got),
      static_cast<unsigned long long>(count->out_of_order()),
      static_cast<unsigned long long>(count->duplicates()), absl::ToDoubleSeconds(took),
      static_cast<double>(messages) / absl::ToDoubleSeconds(took),
      static_cast<unsigned long long>(node.stats().dead_letters));
  if (got != static_cast<uint64_t>(messages) || count->out_of_order() != 0 ||
      count->duplicates() != 0) {
    std::fprintf(stderr, "node: %llu of %lld Pings arrived in order\n",
                 static_cast<unsigned long long>(got), static_cast<long long>(messages));
    return 1;
  }
  return 0;
}

int Paced(troupe::ActorSystem& system, troupe::RemoteNode& node,
          const troupe::ActorRef<PingCounterProtocol>& counter, double seconds, int rate) {
  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(seconds);
  uint64_t seq = 0;
  while (absl::Now() < end) {
    const absl::Time due = start + absl::Seconds(static_cast<double>(seq) / rate);
    if (absl::Now() < due) absl::SleepFor(due - absl::Now());
    counter.Tell(MakePing(++seq));
  }
  // Wait until every Ping is either acknowledged or a dead letter.
  const absl::Time limit = absl::Now() + absl::Seconds(20);
  troupe::RemoteNodeStats s = node.stats();
  while (s.acked + s.dead_letters < s.sent && absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(10));
    s = node.stats();
  }
  absl::StatusOr<PingCount> count = system.Ask(counter, CountPings(), absl::Seconds(10)).get();
  std::printf(
      "{\"sent\": %llu, \"acked\": %llu, \"dead_letters\": %llu, \"connects\": %llu, "
      "\"peer_received\": %llu, \"peer_out_of_order\": %llu, \"peer_duplicates\": %llu, "
      "\"count_error\": \"%s\"}\n",
      static_cast<unsigned long long>(s.sent), static_cast<unsigned long long>(s.acked),
      static_cast<unsigned long long>(s.dead_letters), static_cast<unsigned long long>(s.connects),
      static_cast<unsigned long long>(count.ok() ? count->received() : 0),
      static_cast<unsigned long long>(count.ok() ? count->out_of_order() : 0),
      static_cast<unsigned long long>(count.ok() ? count->duplicates() : 0),
      count.ok() ? "" : count.status().ToString().c_str());
  return count.ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "A troupe node: --listen=HOST:PORT serves a ponger and a counter; --peer=HOST:PORT with "
      "--pings, --messages or --seconds uses them from another process.");
  absl::ParseCommandLine(argc, argv);
  const std::string listen = absl::GetFlag(FLAGS_listen);
  const std::string peer = absl::GetFlag(FLAGS_peer);
  if (listen.empty() == peer.empty()) {
    std::fprintf(stderr, "node: give exactly one of --listen and --peer (see --help)\n");
    return 2;
  }
  // Block the stop signals before any thread starts; Serve waits for them.
  troupe::BlockStopSignals();

  std::string name = absl::GetFlag(FLAGS_name);
  if (name.empty()) name = listen.empty() ? "client" : "serving";
  auto spans = troupe::SpanSinkFromFlags(name);
  if (!spans.ok()) {
    std::fprintf(stderr, "node: %s\n", spans.status().ToString().c_str());
    return 2;
  }
  troupe::ActorSystem system({.threads = absl::GetFlag(FLAGS_threads),
                              .span_sink = *spans,
                              .measured_actor_types = troupe::MeasuredActorTypesFromFlags()});
  troupe::RemoteNodeOptions options{.name = name, .listen_address = listen};
  options.tls = troupe::TlsFilesFromFlags();
  options.allow_insecure = troupe::AllowInsecureFromFlags();
  if (!peer.empty() && !troupe::TlsIdentityFromFlags().empty()) {
    options.peer_identities[peer] = troupe::TlsIdentityFromFlags();
  }
  auto node = troupe::RemoteNode::Start(system, std::move(options));
  if (!node.ok()) {
    std::fprintf(stderr, "node: %s\n", node.status().ToString().c_str());
    return 1;
  }
  if (!listen.empty()) return Serve(system, **node);

  auto ponger = (*node)->Ref<PongerProtocol>(peer, "ponger");
  auto counter = (*node)->Ref<PingCounterProtocol>(peer, "counter");
  if (!ponger.ok() || !counter.ok()) return 1;
  if (absl::GetFlag(FLAGS_pings) > 0 && PingPong(system, *ponger, absl::GetFlag(FLAGS_pings))) {
    return 1;
  }
  if (absl::GetFlag(FLAGS_messages) > 0 &&
      Flood(system, **node, *counter, absl::GetFlag(FLAGS_messages))) {
    return 1;
  }
  if (absl::GetFlag(FLAGS_seconds) > 0 &&
      Paced(system, **node, *counter, absl::GetFlag(FLAGS_seconds), absl::GetFlag(FLAGS_rate))) {
    return 1;
  }
  if (absl::GetFlag(FLAGS_grpc_port) >= 0) return ServeGrpc(system, *ponger);
  return 0;
}
