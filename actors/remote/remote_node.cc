#include "actors/remote/remote_node.h"

#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "actors/tls/credentials.h"

namespace troupe {

absl::StatusOr<std::unique_ptr<RemoteNode>> RemoteNode::Start(ActorSystem& system,
                                                              RemoteNodeOptions options) {
  const bool tls = options.tls.enabled();
  if (tls) {
    if (absl::Status s = CheckTlsFiles(options.tls, /*need_identity=*/true); !s.ok()) return s;
  }
  std::unique_ptr<RemoteNode> node(new RemoteNode(system, std::move(options)));
  if (!node->options_.listen_address.empty()) {
    // The Node service: each peer's Connect stream is served by its own InboundSession actor.
    const internal::InboundOptions inbound{.tls = tls,
                                           .default_ask_timeout = node->options_.ask_timeout,
                                           .max_ask_timeout = node->options_.max_ask_timeout,
                                           .max_asks_in_flight = node->options_.max_asks_in_flight};
    node->gateway_ = std::make_unique<GrpcGateway>(system);
    (void)node->gateway_->AddStream<node::ClientFrame, node::ServerFrame>(
        GrpcMethod<node::Node>("Connect"),
        [system = &system, exports = node->exports_, counters = node->counters_,
         inbound](internal::NodeStream stream) {
          // A failed spawn (actor limit, shutdown) drops the stream: the peer sees ABORTED.
          (void)system->Spawn<internal::InboundSession>(std::move(stream), exports, counters,
                                                        inbound);
        });
    absl::StatusOr<int> port =
        node->gateway_->Start({.address = node->options_.listen_address,
                               .max_message_bytes = node->options_.max_message_bytes,
                               .max_concurrent_streams = node->options_.max_concurrent_streams,
                               .tls = {.files = node->options_.tls},
                               .allow_insecure = node->options_.allow_insecure,
                               .handshake_timeout = node->options_.handshake_timeout,
                               .keepalive_time = node->options_.keepalive_time,
                               .keepalive_timeout = node->options_.keepalive_timeout,
                               .min_client_ping_interval = node->options_.keepalive_time / 2,
                               .name = "node"});
    if (!port.ok()) return port.status();
    node->port_ = *port;
  }
  return node;
}

RemoteNode::RemoteNode(ActorSystem& system, RemoteNodeOptions options)
    : system_(system),
      options_(std::move(options)),
      incarnation_(absl::Uniform<uint64_t>(absl::BitGen())) {
  collector_ =
      system_.metrics().AddCollector([this](metrics::Collection& out) { CollectMetrics(out); });
}

RemoteNode::~RemoteNode() {
  system_.metrics().RemoveCollector(collector_);
  Shutdown();
}

void RemoteNode::CollectMetrics(metrics::Collection& out) const {
  const std::string& node = options_.name;
  {
    MutexLock lock(&mu_);
    for (const auto& [address, link] : links_) {
      const internal::LinkStats l = link->stats();
      const metrics::Collection::Labels labels = {{"node", node}, {"peer", address}};
      out.Counter("troupe_remote_messages_sent_total", "Messages sent to a peer node.", labels,
                  static_cast<double>(l.sent));
      out.Counter("troupe_remote_messages_acked_total",
                  "Messages a peer node acknowledged (delivered or rejected there).", labels,
                  static_cast<double>(l.acked));
      out.Counter("troupe_remote_dead_letters_total",
                  "Messages for a peer node that became dead letters (unreachable, or their "
                  "link broke before the ack).",
                  labels, static_cast<double>(l.dead_letters));
      out.Counter("troupe_remote_link_connects_total", "Streams that reached a peer node.",
                  labels, static_cast<double>(l.connects));
      out.Counter("troupe_remote_link_failures_total",
                  "Streams to a peer node that broke or could not connect.", labels,
                  static_cast<double>(l.failures));
      out.Gauge("troupe_remote_link_up", "1 while the link to a peer node is up.", labels,
                l.up ? 1 : 0);
      out.Counter("troupe_remote_frames_sent_total",
                  "Batch frames written to a peer node (each one or more messages).", labels,
                  static_cast<double>(l.frames));
      out.Counter("troupe_remote_sent_bytes_total",
                  "Bytes of the messages written to a peer node.", labels,
                  static_cast<double>(l.frame_bytes));
    }
  }
  const RemoteNodeStats s = stats();  // one list of what peers' frames did here
  const metrics::Collection::Labels labels = {{"node", node}};
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    out.Counter(name, help, labels, static_cast<double>(v));
  };
  counter("troupe_remote_messages_received_total", "Messages peer nodes sent here.", s.received);
  counter("troupe_remote_messages_delivered_total",
          "Messages from peer nodes delivered to an exported actor.", s.delivered);
  const std::pair<const char*, uint64_t> rejected[] = {
      {"unknown_target", s.rejected_unknown_target}, {"unknown_type", s.rejected_unknown_type},
      {"malformed", s.rejected_malformed},           {"expired", s.rejected_expired},
      {"permission_denied", s.rejected_permission},  {"too_many_asks", s.rejected_too_many_asks}};
  for (const auto& [reason, value] : rejected) {
    out.Counter("troupe_remote_messages_rejected_total",
                "Messages from peer nodes refused here, by reason.",
                {{"node", node}, {"reason", reason}}, static_cast<double>(value));
  }
  counter("troupe_remote_bad_streams_total",
          "Peer streams ended for a protocol violation (bad Hello, bad frame).", s.bad_streams);
  counter("troupe_remote_identity_mismatches_total",
          "Peer streams whose Hello named a node their certificate does not carry.",
          s.identity_mismatches);
  counter("troupe_remote_deadlines_clamped_total",
          "Remote asks whose deadline was cut to max_ask_timeout.", s.deadlines_clamped);
  counter("troupe_remote_paused_for_room_total",
          "Times a peer stream waited for room in a full mailbox.", s.paused_for_room);
}

absl::Status RemoteNode::Unexport(const std::string& name) {
  if (!exports_->Remove(name)) {
    return absl::NotFoundError(absl::StrCat("nothing is exported as '", name, "'"));
  }
  return absl::OkStatus();
}

std::shared_ptr<internal::Link> RemoteNode::LinkToLocked(const std::string& address) {
  auto it = links_.find(address);
  if (it != links_.end()) return it->second;
  internal::LinkOptions options;
  options.address = address;
  options.local_node = options_.name;
  options.incarnation = incarnation_;
  options.max_message_bytes = options_.max_message_bytes;
  options.max_unacked = options_.max_unacked;
  options.backoff_initial = options_.backoff_initial;
  options.backoff_max = options_.backoff_max;
  options.keepalive_time = options_.keepalive_time;
  options.keepalive_timeout = options_.keepalive_timeout;
  options.cluster_incarnation = cluster_incarnation_;
  if (options_.tls.enabled()) {
    auto expected = options_.peer_identities.find(address);
    options.tls = TlsChannelOptions{
        .files = options_.tls,
        .expected_identity = expected == options_.peer_identities.end() ? "" : expected->second};
  }
  std::shared_ptr<internal::Link> link = internal::Link::Create(system_, std::move(options));
  links_.emplace(address, link);
  return link;
}

RemoteNodeStats RemoteNode::stats() const {
  RemoteNodeStats s;
  {
    MutexLock lock(&mu_);
    for (const auto& [address, link] : links_) {
      const internal::LinkStats l = link->stats();
      s.sent += l.sent;
      s.acked += l.acked;
      s.dead_letters += l.dead_letters;
      s.connects += l.connects;
      s.link_failures += l.failures;
    }
  }
  s.received = counters_->received.load();
  s.delivered = counters_->delivered.load();
  s.rejected_unknown_target = counters_->unknown_target.load();
  s.rejected_unknown_type = counters_->unknown_type.load();
  s.rejected_malformed = counters_->malformed.load();
  s.rejected_expired = counters_->expired.load();
  s.rejected_permission = counters_->permission_denied.load();
  s.rejected_too_many_asks = counters_->asks_refused.load();
  s.deadlines_clamped = counters_->deadlines_clamped.load();
  s.paused_for_room = counters_->paused.load();
  s.bad_streams = counters_->bad_streams.load();
  s.identity_mismatches = counters_->identity_mismatches.load();
  return s;
}

void RemoteNode::Shutdown() {
  absl::flat_hash_map<std::string, std::shared_ptr<internal::Link>> links;
  {
    MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
    links = links_;
  }
  // Peer streams never end by themselves: cancel them at once (the peers dead-letter what they
  // sent that was not acknowledged).
  if (gateway_) gateway_->Shutdown(absl::Milliseconds(100));
  for (auto& [address, link] : links) link->Shutdown();
}

}  // namespace troupe
