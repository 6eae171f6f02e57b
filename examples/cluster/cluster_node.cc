// A troupe cluster node: joins the cluster through etcd and hosts the "counter" virtual actors
// (examples/cluster/counter.h) for any member to use by identity.
//
//   etcd ... &                                      # or: tools/demo cluster
//   bazel run //examples/cluster:cluster_node -- --name=n1 --listen=127.0.0.1:7201
//       --etcd=127.0.0.1:2379
//   bazel run //examples/cluster:cluster_node -- --name=client --listen=127.0.0.1:7209
//       --etcd=127.0.0.1:2379 --kinds= --ask=300      # asks 300 identities, prints their owners
//
// Serving, it prints "cluster node NAME on port P" and, with --activation_log, writes each
// activation and passivation there. --ask=N (a member hosting nothing, by default) asks
// counter/0 .. counter/N-1 and prints "ID OWNER" per identity, then leaves. SIGINT/SIGTERM
// leave the cluster gracefully (its identities move at once). TLS: --tls_cert/--tls_key/--tls_ca
// make the node links mutual TLS (a node's certificate must carry its --name); --etcd_tls_ca/
// --etcd_tls_cert/--etcd_tls_key reach etcd over https with a client certificate.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "actors/cluster/cluster.h"
#include "actors/cluster/etcd_flags.h"
#include "actors/cluster/etcd_membership.h"
#include "actors/metrics/metrics_flags.h"
#include "framework/trace/trace_flags.h"
#include "actors/remote/remote_node.h"
#include "actors/tls/tls_flags.h"
#include "examples/cluster/counter.h"
#include "framework/base/stop_signals.h"

ABSL_FLAG(std::string, name, "", "this node's name (unique in the cluster; required)");
ABSL_FLAG(std::string, listen, "127.0.0.1:0", "host:port to serve peers on (port 0: pick one)");
ABSL_FLAG(std::string, advertise, "", "host:port peers reach this node on (default: --listen's "
                                      "host and the chosen port)");
ABSL_FLAG(std::string, cluster, "troupe", "the cluster's name (its keys' prefix in etcd)");
ABSL_FLAG(std::string, kinds, "counter", "virtual actor kinds hosted here, comma-separated "
                                         "(counter, single: counter with single activation)");
ABSL_FLAG(absl::Duration, passivate_after, absl::Minutes(5), "idle activations stop after this");
ABSL_FLAG(std::string, activation_log, "", "append activations and passivations to this file");
ABSL_FLAG(int, ask, 0, "ask KIND/FIRST..FIRST+N-1 once each, print who owns them, leave, exit");
ABSL_FLAG(std::string, ask_kind, "counter", "the kind --ask asks");
ABSL_FLAG(int, ask_first, 0, "the first identity --ask asks");
ABSL_FLAG(absl::Duration, ask_timeout, absl::Seconds(10), "each --ask ask's deadline");
ABSL_FLAG(bool, ask_ping, false, "with --ask: tell each identity a Ping before asking it");
ABSL_FLAG(int, threads, 0, "worker threads (0 = one per core)");

namespace {

using troupe::examples::CounterProtocol;

int AskAll(troupe::ActorSystem& system, troupe::cluster::Cluster& cluster, int n) {
  const std::string kind = absl::GetFlag(FLAGS_ask_kind);
  // Wait (a little) until some member hosts the kind; asks would wait for one anyway.
  for (int i = 0; i < 50; ++i) {
    bool hosted = false;
    for (const auto& m : cluster.view().members) hosted = hosted || m.Hosts(kind);
    if (hosted) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  int failed = 0;
  for (int i = absl::GetFlag(FLAGS_ask_first); i < absl::GetFlag(FLAGS_ask_first) + n; ++i) {
    auto ref = cluster.Get<CounterProtocol>(kind, absl::StrCat(i));
    if (!ref.ok()) return 1;
    if (absl::GetFlag(FLAGS_ask_ping)) ref->Tell(troupe::examples::Ping());
    auto reply =
        system.Ask(*ref, troupe::examples::EchoRequest(), absl::GetFlag(FLAGS_ask_timeout)).get();
    if (!reply.ok()) {
      ++failed;
      std::printf("%d failed %s\n", i, reply.status().ToString().c_str());
      continue;
    }
    std::printf("%d %s\n", i, reply->text().c_str());  // NODE@ADDRESS:COUNT:TOKEN
  }
  std::fflush(stdout);
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("A troupe cluster node hosting counter virtual actors; see the "
                               "file's comment and docs/clusters.md.");
  absl::ParseCommandLine(argc, argv);
  const std::string name = absl::GetFlag(FLAGS_name);
  if (name.empty()) {
    std::fprintf(stderr, "cluster_node: --name is required\n");
    return 2;
  }
  troupe::BlockStopSignals();
  auto spans = troupe::SpanSinkFromFlags(name);
  if (!spans.ok()) {
    std::fprintf(stderr, "cluster_node: %s\n", spans.status().ToString().c_str());
    return 1;
  }
  troupe::ActorSystem system({.threads = absl::GetFlag(FLAGS_threads),
                              .span_sink = *spans,
                              .measured_actor_types = troupe::MeasuredActorTypesFromFlags()});
  troupe::RemoteNodeOptions node_options{.name = name,
                                         .listen_address = absl::GetFlag(FLAGS_listen)};
  node_options.tls = troupe::TlsFilesFromFlags();
  node_options.allow_insecure = troupe::AllowInsecureFromFlags();
  auto node = troupe::RemoteNode::Start(system, std::move(node_options));
  if (!node.ok()) {
    std::fprintf(stderr, "cluster_node: %s\n", node.status().ToString().c_str());
    return 1;
  }
  std::string advertise = absl::GetFlag(FLAGS_advertise);
  if (advertise.empty()) {
    const std::string listen = absl::GetFlag(FLAGS_listen);
    advertise = absl::StrCat(listen.substr(0, listen.rfind(':')), ":", (*node)->port());
  }
  auto membership = troupe::cluster::EtcdMembership::Create(
      system, troupe::cluster::EtcdMembershipOptionsFromFlags(absl::GetFlag(FLAGS_cluster)));
  if (!membership.ok()) {
    std::fprintf(stderr, "cluster_node: %s\n", membership.status().ToString().c_str());
    return 1;
  }
  auto cluster = troupe::cluster::Cluster::Create(system, **node, *std::move(membership),
                                                  {.advertise_address = advertise});
  if (!cluster.ok()) {
    std::fprintf(stderr, "cluster_node: %s\n", cluster.status().ToString().c_str());
    return 1;
  }
  auto log = std::make_shared<troupe::examples::ActivationLog>();
  if (!absl::GetFlag(FLAGS_activation_log).empty()) {
    log->file = std::fopen(absl::GetFlag(FLAGS_activation_log).c_str(), "a");
  }
  std::vector<std::string> kinds = absl::StrSplit(absl::GetFlag(FLAGS_kinds), ',', absl::SkipEmpty());
  for (const std::string& kind : kinds) {
    absl::Status added = (*cluster)->Kind<troupe::examples::Counter>(
        kind,
        {.passivate_after = absl::GetFlag(FLAGS_passivate_after),
         .single_activation = kind == "single"},
        absl::StrCat(name, "@", advertise), log);
    if (!added.ok()) {
      std::fprintf(stderr, "cluster_node: %s\n", added.ToString().c_str());
      return 1;
    }
  }
  if (absl::Status s = (*cluster)->Start(); !s.ok()) {
    std::fprintf(stderr, "cluster_node: %s\n", s.ToString().c_str());
    return 1;
  }
  // Serving (or probing) once this node sees itself joined, so a caller that waits for the
  // line below talks to a member.
  for (int i = 0; i < 200 && (*cluster)->view().Find(name) == nullptr; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  if (absl::GetFlag(FLAGS_ask) > 0) {
    const int rc = AskAll(system, **cluster, absl::GetFlag(FLAGS_ask));
    (*cluster)->Leave();
    return rc;
  }
  auto metrics = troupe::StartMetricsFromFlags(system);
  if (!metrics.ok()) {
    std::fprintf(stderr, "cluster_node: %s\n", metrics.status().ToString().c_str());
    return 1;
  }
  std::printf("cluster node %s on port %d\n", name.c_str(), (*node)->port());
  std::fflush(stdout);
  const int signal_number = troupe::WaitForStopSignal();
  std::fprintf(stderr, "cluster_node %s: leaving (signal %d)\n", name.c_str(), signal_number);
  (*cluster)->Leave();
  cluster->reset();
  metrics->reset();
  (*node)->Shutdown();
  if (log->file != nullptr) std::fclose(log->file);
  return 0;
}
