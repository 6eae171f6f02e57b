// ChatCluster: a chat server's membership in a cluster of chat servers (chat_server --cluster).
// It starts the node's RemoteNode (the links between nodes: mutual TLS with --tls_*), joins the
// cluster through the given membership provider (etcd in chat_server, in memory in tests),
// hosts the "room" virtual actors (ClusterRoom) and the node's inbox, and gives ChatServer the
// ChatNode its ClusterLobby and RoomStubs share. Sessions stay on the node their client
// connected to; rooms live on whichever node owns them, and move when nodes come and go.
//
//   auto cluster = ChatCluster::Join(system, std::move(membership), {.node_name = "a"});
//   auto server = ChatServer::Start(system, {.port = 7070, .cluster = cluster->get()});
//
// Thread safety: Join, FlushHostedRooms and Leave from a thread that is not one of the system's
// workers; node() from any thread.
#ifndef EXAMPLES_CHAT_CHAT_CLUSTER_H_
#define EXAMPLES_CHAT_CHAT_CLUSTER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "actors/cluster/cluster.h"
#include "actors/cluster/membership.h"
#include "actors/remote/remote_node.h"
#include "examples/chat/chat_node.h"

namespace troupe::chat {

struct ChatClusterOptions {
  std::string node_name;                // unique in the cluster (required)
  std::string listen = "127.0.0.1:0";   // where other nodes reach this one (port 0: pick one)
  std::string advertise;                // host:port they dial (default: listen's host, its port)
  TlsFiles tls;                         // mutual TLS between nodes (the node's cert names it)
  bool allow_insecure = false;          // plaintext links beyond loopback (RemoteNode)
  std::string history_dir;              // where rooms hosted here keep their history
  absl::Duration room_idle = absl::Minutes(1);  // a room without members stops after this
};

class ChatCluster {
 public:
  static absl::StatusOr<std::unique_ptr<ChatCluster>> Join(
      ActorSystem& system, std::unique_ptr<troupe::cluster::MembershipProvider> membership,
      ChatClusterOptions options);
  ~ChatCluster();  // leaves if Leave was not called

  const std::shared_ptr<ChatNode>& node() const { return node_; }
  troupe::cluster::Cluster& cluster() { return *cluster_; }
  int node_port() const { return remote_->port(); }

  // Writes the pending history of the rooms hosted here; how many could not be saved.
  int FlushHostedRooms();
  // Leaves the cluster now (its rooms move to the other nodes at once) and closes the links.
  void Leave();

 private:
  ChatCluster(ActorSystem& system) : system_(system) {}

  ActorSystem& system_;
  std::unique_ptr<RemoteNode> remote_;
  std::unique_ptr<troupe::cluster::Cluster> cluster_;
  std::shared_ptr<ChatNode> node_;
  bool left_ = false;
};

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_CHAT_CLUSTER_H_
