#include "examples/chat/chat_cluster.h"

#include "absl/strings/str_cat.h"
#include "examples/chat/cluster_lobby.h"
#include "examples/chat/cluster_room.h"

namespace troupe::chat {

absl::StatusOr<std::unique_ptr<ChatCluster>> ChatCluster::Join(
    ActorSystem& system, std::unique_ptr<troupe::cluster::MembershipProvider> membership,
    ChatClusterOptions options) {
  if (options.node_name.empty()) return absl::InvalidArgumentError("a chat node needs a name");
  std::unique_ptr<ChatCluster> c(new ChatCluster(system));
  RemoteNodeOptions remote{.name = options.node_name, .listen_address = options.listen};
  remote.tls = options.tls;
  remote.allow_insecure = options.allow_insecure;
  absl::StatusOr<std::unique_ptr<RemoteNode>> node = RemoteNode::Start(system, std::move(remote));
  if (!node.ok()) return node.status();
  c->remote_ = *std::move(node);
  std::string advertise = options.advertise;
  if (advertise.empty()) {
    advertise = absl::StrCat(options.listen.substr(0, options.listen.rfind(':')), ":",
                             c->remote_->port());
  }
  absl::StatusOr<std::unique_ptr<troupe::cluster::Cluster>> cluster =
      troupe::cluster::Cluster::Create(system, *c->remote_, std::move(membership),
                                       {.advertise_address = advertise});
  if (!cluster.ok()) return cluster.status();
  c->cluster_ = *std::move(cluster);
  c->node_ = std::make_shared<ChatNode>();
  c->node_->name = options.node_name;
  c->node_->address = advertise;
  c->node_->node = c->remote_.get();
  c->node_->cluster = c->cluster_.get();
  c->node_->history_dir = options.history_dir;
  absl::Status kind = c->cluster_->Kind<ClusterRoom>(
      kRoomKind, {.passivate_after = options.room_idle, .single_activation = true}, c->node_);
  if (!kind.ok()) return kind;
  absl::StatusOr<ActorRef<NodeInboxProtocol>> inbox = system.Spawn<NodeInbox>(c->node_);
  if (!inbox.ok()) return inbox.status();
  if (absl::Status s = c->remote_->Export(kInboxName, *inbox); !s.ok()) return s;
  if (absl::Status s = c->cluster_->Start(); !s.ok()) return s;
  // Serving once this node sees itself in the cluster (its nicks and rooms need it).
  for (int i = 0; i < 200 && c->cluster_->view().Find(options.node_name) == nullptr; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  if (c->cluster_->view().Find(options.node_name) == nullptr) {
    return absl::UnavailableError("could not join the cluster within 10 s (is etcd reachable?)");
  }
  return c;
}

int ChatCluster::FlushHostedRooms() {
  int unsaved = 0;
  for (const ClusterRoomRef& room : node_->directory.Hosted()) {
    auto flushed = system_.Ask(room, wire::RoomFlush{}, absl::Seconds(10)).get();
    unsaved += !(flushed.ok() && flushed->ok());
  }
  return unsaved;
}

void ChatCluster::Leave() {
  if (left_) return;
  left_ = true;
  cluster_->Leave();
  remote_->Shutdown();
}

ChatCluster::~ChatCluster() {
  Leave();
  cluster_.reset();
}

}  // namespace troupe::chat
