// The chat server: rooms as actors over TCP (and gRPC), with persistent history.
//
//   bazel run -c opt //examples/chat:chat_server -- --port=7070 [--grpc_port=7071]
//       [--backend=epoll|uring|auto] [--threads=T] [--noshared_reactor] [--history_dir=DIR]
//       [--record=FILE]
//   ... --cluster=chat --etcd=127.0.0.1:2379 --node_name=a [--node_listen=HOST:PORT]
//       (one node of a chat cluster; tools/demo cluster starts etcd and three of them)
//
// One TcpChatSession actor per connection, one Room actor per room (it orders the room's
// messages), one Lobby actor (nicks, the room directory, private messages). The line protocol
// is in examples/chat/README.md. SIGINT/SIGTERM: stop accepting, write every room's pending
// history, exit 0 (in a cluster: then leave it, so its rooms move to the other nodes at once).
// --record=FILE: the run is recorded and written to FILE at exit; chat_replay_test replays it
// (CHAT_RECORDING=FILE, docs/simulation.md).
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "actors/cluster/etcd_flags.h"
#include "actors/metrics/metrics_flags.h"
#include "framework/record/record_flags.h"
#include "framework/trace/trace_flags.h"
#include "actors/cluster/etcd_membership.h"
#include "actors/tls/tls_flags.h"
#include "examples/chat/chat_server_lib.h"
#include "framework/base/stop_signals.h"
#include "framework/system/actor_system.h"
#include "io/backend_selector.h"

ABSL_FLAG(std::string, host, "127.0.0.1",
          "address to listen on (the gRPC port needs --tls_* or --allow_insecure off loopback)");
ABSL_FLAG(int, port, 7070, "TCP port (0: pick one; the chosen port is printed)");
ABSL_FLAG(int, grpc_port, -1, "also serve proto/chat.proto's Chat service here (-1: off)");
ABSL_FLAG(troupe::IoBackendKind, backend, troupe::IoBackendKind::kAuto,
          "I/O backend: epoll, uring or auto");
ABSL_FLAG(int, threads, 0, "worker threads (0 = one per core)");
ABSL_FLAG(bool, shared_reactor, true,
          "with epoll and several workers, one epoll set driven by every worker (false: one per "
          "worker, each connection served by its own)");
ABSL_FLAG(std::string, history_dir, "",
          "keep each room's messages in DIR/ROOM.log and replay them after a restart");
ABSL_FLAG(int64_t, max_connections, 20000, "open connections beyond this are refused");
ABSL_FLAG(absl::Duration, first_line_timeout, absl::Seconds(60),
          "a client that sends no complete line this long after connecting is disconnected");
ABSL_FLAG(absl::Duration, idle_timeout, absl::Minutes(30),
          "a client that sends nothing this long is disconnected");
ABSL_FLAG(int64_t, max_output_bytes, troupe::chat::OutputLimits().hard_bytes,
          "hard limit: a client with this much output waiting is disconnected at once");
ABSL_FLAG(absl::Duration, output_stall_timeout, troupe::chat::OutputLimits().stall_timeout,
          "soft limit: a client with output waiting that takes none of it this long is "
          "disconnected");
ABSL_FLAG(absl::Duration, output_pace_timeout, troupe::chat::OutputLimits().pace_timeout,
          "a client that takes no output this long stops pacing the rooms' senders until it "
          "reads again");

ABSL_FLAG(std::string, cluster, "",
          "join the chat cluster of this name (its keys' prefix in etcd, see --etcd); empty: a "
          "single server");
ABSL_FLAG(std::string, node_name, "",
          "this node's name in the cluster (default: HOST-PORT, HOST-PID with --port=0; with --tls_*, a name its "
          "certificate carries)");
ABSL_FLAG(std::string, node_listen, "",
          "host:port other nodes reach this one on (default: --host, a port of its choice)");
ABSL_FLAG(std::string, node_advertise, "",
          "host:port other nodes dial (default: --node_listen's host and the chosen port)");
ABSL_FLAG(absl::Duration, room_idle, absl::Minutes(1),
          "in a cluster, a room without members stops (and leaves /rooms) after this");

namespace {

// Cluster mode: joins through etcd. Null (and no error) without --cluster.
absl::StatusOr<std::unique_ptr<troupe::chat::ChatCluster>> JoinCluster(troupe::ActorSystem& sys) {
  const std::string name = absl::GetFlag(FLAGS_cluster);
  if (name.empty()) return nullptr;
  auto membership = troupe::cluster::EtcdMembership::Create(
      sys, troupe::cluster::EtcdMembershipOptionsFromFlags(name));
  if (!membership.ok()) return membership.status();
  std::string node_name = absl::GetFlag(FLAGS_node_name);
  if (node_name.empty()) {  // the chat port tells nodes on one host apart (a picked one: the pid)
    const int port = absl::GetFlag(FLAGS_port);
    node_name = absl::StrCat(absl::GetFlag(FLAGS_host), "-", port != 0 ? port : ::getpid());
  }
  std::string listen = absl::GetFlag(FLAGS_node_listen);
  if (listen.empty()) listen = absl::StrCat(absl::GetFlag(FLAGS_host), ":0");
  return troupe::chat::ChatCluster::Join(sys, *std::move(membership),
                                         {.node_name = node_name,
                                          .listen = listen,
                                          .advertise = absl::GetFlag(FLAGS_node_advertise),
                                          .tls = troupe::TlsFilesFromFlags(),
                                          .allow_insecure = troupe::AllowInsecureFromFlags(),
                                          .history_dir = absl::GetFlag(FLAGS_history_dir),
                                          .room_idle = absl::GetFlag(FLAGS_room_idle)});
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "A chat server built from troupe actors. Connect with //examples/chat:chat_client, nc "
      "or telnet; the protocol is in examples/chat/README.md.");
  absl::ParseCommandLine(argc, argv);
  troupe::BlockStopSignals();

  troupe::ActorSystemOptions options;
  options.threads = absl::GetFlag(FLAGS_threads);
  options.io.kind = absl::GetFlag(FLAGS_backend);
  options.io.shared_reactor = absl::GetFlag(FLAGS_shared_reactor);
  auto spans = troupe::SpanSinkFromFlags("chat_server");
  if (!spans.ok()) {
    std::fprintf(stderr, "chat_server: %s\n", spans.status().ToString().c_str());
    return 1;
  }
  options.span_sink = *spans;
  options.measured_actor_types = troupe::MeasuredActorTypesFromFlags();
  auto recorder = troupe::RecorderFromFlags();
  if (!recorder.ok()) {
    std::fprintf(stderr, "chat_server: %s\n", recorder.status().ToString().c_str());
    return 1;
  }
  if (*recorder && (absl::GetFlag(FLAGS_grpc_port) >= 0 || !absl::GetFlag(FLAGS_history_dir).empty() ||
                    !absl::GetFlag(FLAGS_cluster).empty())) {
    // A replay runs on one simulated thread: gRPC's threads, the history files' executor and
    // the cluster's node links cannot run in it.
    std::fprintf(stderr,
                 "chat_server: --record replays the TCP chat only: leave out --grpc_port, "
                 "--history_dir and --cluster\n");
    return 1;
  }
  options.recorder = *recorder;
  absl::StatusOr<std::unique_ptr<troupe::ActorSystem>> system =
      troupe::ActorSystem::Create(options);
  if (!system.ok()) {
    std::fprintf(stderr, "chat_server: %s\n", system.status().ToString().c_str());
    return 1;
  }
  troupe::ActorSystem& sys = **system;
  auto cluster = JoinCluster(sys);
  if (!cluster.ok()) {
    std::fprintf(stderr, "chat_server: cannot join cluster %s: %s\n",
                 absl::GetFlag(FLAGS_cluster).c_str(), cluster.status().ToString().c_str());
    return 1;
  }
  auto server = troupe::chat::ChatServer::Start(
      sys, {.host = absl::GetFlag(FLAGS_host),
            .port = absl::GetFlag(FLAGS_port),
            .grpc_port = absl::GetFlag(FLAGS_grpc_port),
            .history_dir = absl::GetFlag(FLAGS_history_dir),
            .max_connections = absl::GetFlag(FLAGS_max_connections),
            .max_output_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_output_bytes)),
            .output_stall_timeout = absl::GetFlag(FLAGS_output_stall_timeout),
            .output_pace_timeout = absl::GetFlag(FLAGS_output_pace_timeout),
            .first_line_timeout = absl::GetFlag(FLAGS_first_line_timeout),
            .idle_timeout = absl::GetFlag(FLAGS_idle_timeout),
            .grpc_tls = troupe::TlsServerOptionsFromFlags(),
            .allow_insecure = troupe::AllowInsecureFromFlags(),
            .cluster = cluster->get()});
  if (!server.ok()) {
    std::fprintf(stderr, "chat_server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  std::printf("chat on port %d\n", (*server)->port());
  if ((*server)->grpc_port() >= 0) std::printf("grpc on port %d\n", (*server)->grpc_port());
  if (*cluster) {
    std::printf("node %s of cluster %s (nodes reach it on port %d)\n",
                (*cluster)->node()->name.c_str(), absl::GetFlag(FLAGS_cluster).c_str(),
                (*cluster)->node_port());
  }
  auto metrics = troupe::StartMetricsFromFlags(sys);
  if (!metrics.ok()) {
    std::fprintf(stderr, "chat_server: %s\n", metrics.status().ToString().c_str());
    return 1;
  }
  std::fflush(stdout);
  const std::string history_dir = absl::GetFlag(FLAGS_history_dir);
  std::fprintf(stderr, "chat_server: backend %s, %d worker threads%s%s\n",
               std::string(sys.io()->backend_name()).c_str(), sys.scheduler().num_workers(),
               history_dir.empty() ? "" : ", history in ", history_dir.c_str());

  const int signal_number = troupe::WaitForStopSignal();
  // Everything said in a room so far goes to its file before the process exits.
  const int unsaved = (*server)->Stop();
  metrics->reset();
  std::fprintf(stderr,
               "chat_server: stopping (signal %d): %llu connections served, %llu members cut off "
               "for not reading%s\n",
               signal_number, static_cast<unsigned long long>((*server)->connections_served()),
               static_cast<unsigned long long>((*server)->members_cut_off()),
               unsaved == 0 ? "" : ", some rooms' history NOT saved");
  if (*cluster) (*cluster)->Leave();
  sys.Shutdown();
  absl::StatusOr<std::string> recorded = troupe::WriteRecordingFromFlags(recorder->get());
  if (!recorded.ok()) {
    std::fprintf(stderr, "chat_server: %s\n", recorded.status().ToString().c_str());
    return 1;
  }
  if (!recorded->empty()) std::fprintf(stderr, "chat_server: recorded %s\n", recorded->c_str());
  return unsaved == 0 ? 0 : 1;
}
