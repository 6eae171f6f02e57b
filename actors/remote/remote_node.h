// RemoteNode: actor systems on different nodes sending to each other over gRPC.
//
//   // node B: serve (mutual TLS: beyond loopback plaintext fails Start), export an actor
//   troupe::TlsFiles tls{.ca_file = "ca.pem", .cert_file = "b.pem", .key_file = "b.key"};
//   auto node = troupe::RemoteNode::Start(
//       system, {.name = "b", .listen_address = "0.0.0.0:7100", .tls = tls});
//   (*node)->Export("ponger", ponger_ref);
//
//   // node A: a reference to it, used like a local one (A's own certificate in its tls)
//   auto node = troupe::RemoteNode::Start(system, {.name = "a", .tls = a_tls});
//   absl::StatusOr<troupe::ActorRef<PongerProtocol>> ponger = (*node)->Ref<PongerProtocol>(
//       "10.0.0.2:7100", "ponger");
//   ponger->Tell(ping);                                     // Protobuf messages only
//   system.Ask(*ponger, request, absl::Seconds(1), ...);   // asks too, answered across nodes
//   (*node)->Monitor(*ponger, watcher);                     // watcher gets NodeDown
//
// Security (actors/tls): with RemoteNodeOptions::tls every link is mutual TLS - this node
// verifies a peer's certificate against its CA bundle and checks that it carries the identity
// expected for its address (peer_identities, else the host dialed); a peer's Hello must name a
// node its certificate carries (else the stream ends, counted). Export takes an AccessPolicy:
// by default every node the CA admits may reach the actor; anything else is refused
// PERMISSION_DENIED and counted. A receiver learns the sending node by listing FromNode<T>.
// Listening beyond loopback without TLS fails Start unless allow_insecure.
//
// Messages from one sender through one reference arrive in the order sent. Delivery is at most
// once, never duplicated: messages sent while the peer is unreachable, or whose link broke
// before the peer acknowledged them, are dead letters (system.dead_letters(), and counted in
// stats()), and the link reconnects with back-off. Only the Protobuf message types of an
// exported actor's Protocol are decoded for it; anything else is rejected and counted.
//
// Thread safety: all methods from any thread. The RemoteNode must outlive the references it
// made (they become unreachable dead letters after Shutdown).
#ifndef ACTORS_REMOTE_REMOTE_NODE_H_
#define ACTORS_REMOTE_REMOTE_NODE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "actors/grpc/gateway.h"
#include "actors/remote/inbound_session.h"
#include "actors/remote/link.h"
#include "actors/remote/wire_types.h"
#include "actors/tls/access_policy.h"
#include "actors/tls/tls_options.h"
#include "framework/base/mutex.h"
#include "framework/system/actor_system.h"
#include "framework/trace/trace_context.h"

namespace troupe {

struct RemoteNodeOptions {
  std::string name = "troupe";
  std::string listen_address;         // host:port to serve peers on; empty: send only
  int max_message_bytes = 4 << 20;    // one message (and one batch frame) at most
  int max_concurrent_streams = 1000;  // per peer connection, on the serving side
  size_t max_unacked = 100000;        // per peer: messages awaiting their ack
  absl::Duration backoff_initial = absl::Milliseconds(100);
  absl::Duration backoff_max = absl::Seconds(2);
  absl::Duration ask_timeout = absl::Seconds(30);  // deadline carried by remote asks
  // Mutual TLS for every link, both ways (on when its files are set). This node's certificate
  // must carry `name` as a subject alternative name (tools/dev_certs NAME makes one).
  TlsFiles tls;
  // The identity the certificate of the node at an address must carry, by "host:port";
  // addresses not listed must present the host they are dialed by (a DNS or IP name).
  absl::flat_hash_map<std::string, std::string> peer_identities;
  bool allow_insecure = false;  // listen beyond loopback without TLS anyway (logged)
  // Limits for what peers send here: an ask's deadline is clamped to max_ask_timeout; a peer
  // stream has at most max_asks_in_flight asks waiting for answers (more: RESOURCE_EXHAUSTED).
  absl::Duration max_ask_timeout = absl::Minutes(5);
  size_t max_asks_in_flight = 10000;
  // gRPC's connection limits for links, both ways: a peer's TLS/HTTP2 handshake must finish
  // within handshake_timeout; the dialing side pings its link every keepalive_time while it is
  // quiet and drops it when a ping is not answered within keepalive_timeout (a peer that
  // vanished without closing: its messages become dead letters, watchers get NodeDown). The
  // serving side admits pings every keepalive_time / 2: give every node the same values.
  absl::Duration handshake_timeout = absl::Seconds(10);
  absl::Duration keepalive_time = absl::Seconds(30);
  absl::Duration keepalive_timeout = absl::Seconds(10);
};

// Sent to a watcher when the node holding a monitored actor cannot be reached (its link broke
// or could not connect). Sent once per outage.
struct NodeDown {
  std::string address;
  absl::Status status;
};

struct RemoteNodeStats {
  uint64_t sent = 0, acked = 0, dead_letters = 0, connects = 0, link_failures = 0;
  uint64_t received = 0, delivered = 0, rejected_unknown_target = 0, rejected_unknown_type = 0,
           rejected_malformed = 0, rejected_expired = 0, rejected_permission = 0,
           rejected_too_many_asks = 0, deadlines_clamped = 0, paused_for_room = 0,
           bad_streams = 0, identity_mismatches = 0;
};

namespace internal {

template <typename P, std::size_t... I>
constexpr bool AllEntriesAreProto(std::index_sequence<I...>) {
  return (kIsProto<typename P::template Entry<I>::Message> && ...);
}

// One remote actor as a destination: serializes a message into an envelope for it and sends
// it on the link to its node (an ask's answer completes the promise). Copyable; calls from any
// thread (the link serializes), in order per caller.
class RemoteTarget {
 public:
  RemoteTarget(std::shared_ptr<Link> link, std::string target, std::string sender,
               absl::Duration ask_timeout)
      : link_(std::move(link)),
        target_(std::move(target)),
        sender_(std::move(sender)),
        ask_timeout_(ask_timeout) {}

  template <typename T>
  void Tell(const T& message) const {
    (void)link_->Send(Wrap(message), ProtoTypeName<T>());
  }
  template <typename T, typename R>
  void Ask(const T& message, Promise<R> reply) const {
    node::Envelope envelope = Wrap(message);
    envelope.set_deadline_unix_micros(absl::ToUnixMicros(absl::Now() + ask_timeout_));
    auto promise = std::make_shared<Promise<R>>(std::move(reply));
    (void)link_->Send(
        std::move(envelope), ProtoTypeName<T>(),
        [promise](absl::StatusOr<WireMessage> answer) {
          if (!answer.ok()) {
            promise->Fail(answer.status());
            return;
          }
          R response;
          if (answer->type != ProtoTypeName<R>() || !response.ParseFromString(answer->bytes)) {
            promise->Fail(absl::InternalError(
                absl::StrCat("the remote reply is not a valid ", ProtoTypeName<R>())));
            return;
          }
          promise->Reply(std::move(response));
        });
  }

 private:
  template <typename T>
  node::Envelope Wrap(const T& message) const {
    node::Envelope envelope;
    envelope.set_target(target_);
    envelope.set_sender(sender_);
    envelope.set_message_type(ProtoTypeName<T>());
    message.SerializeToString(envelope.mutable_payload());
    if (const TraceContext* trace = CurrentTrace(); trace != nullptr) {
      envelope.set_trace_context(trace->ToTraceparent());  // sent from the current span
    }
    return envelope;
  }

  std::shared_ptr<Link> link_;
  std::string target_;
  std::string sender_;
  absl::Duration ask_timeout_;
};

// The local stand-in for a remote actor (what RemoteNode::Ref gives): an actor that sends each
// message to its RemoteTarget.
template <typename P>
class RemoteProxy : public Actor<RemoteProxy<P>, P> {
  static_assert(AllEntriesAreProto<P>(std::make_index_sequence<P::kSize>()),
                "a remote actor's Protocol may list Protobuf messages only");

 public:
  explicit RemoteProxy(RemoteTarget target) : target_(std::move(target)) {}

  template <typename T>
  void Handle(T&& message) {
    target_.Tell(message);
  }
  template <typename T, typename R>
  void Handle(T&& message, Promise<R> reply) {
    target_.Ask(message, std::move(reply));
  }

 private:
  RemoteTarget target_;
};

}  // namespace internal

class RemoteNode {
 public:
  // Starts the node (serving peers if options.listen_address is set).
  // UNAVAILABLE: the address cannot be bound; INVALID_ARGUMENT: bad TLS files;
  // FAILED_PRECONDITION: a non-loopback address without TLS nor allow_insecure.
  static absl::StatusOr<std::unique_ptr<RemoteNode>> Start(ActorSystem& system,
                                                           RemoteNodeOptions options);
  ~RemoteNode();
  RemoteNode(const RemoteNode&) = delete;
  RemoteNode& operator=(const RemoteNode&) = delete;

  // The port peers reach this node on (0 if it does not listen).
  int port() const { return port_; }
  const std::string& name() const { return options_.name; }

  // Lets peers reach `actor` as `name` (replacing an earlier export of that name), those
  // `access` admits (default: every node whose certificate our CA admits). FAILED_PRECONDITION:
  // a restricting policy on a node without TLS (identities come from certificates).
  template <typename P>
  absl::Status Export(std::string name, const ActorRef<P>& actor, AccessPolicy access = {}) {
    if (name.empty()) return absl::InvalidArgumentError("an export needs a name");
    if (!actor) return absl::InvalidArgumentError("cannot export an empty ActorRef");
    if (!options_.tls.enabled() && (!access.allow.empty() || access.check)) {
      return absl::FailedPreconditionError(
          "an export restricted to some nodes needs TLS: identities come from certificates");
    }
    exports_->Set(std::move(name),
                  std::make_shared<const internal::Export>(internal::Export{
                      internal::MakeExportTable(system_, actor), std::move(access)}));
    return absl::OkStatus();
  }
  // NOT_FOUND if nothing is exported under `name`.
  absl::Status Unexport(const std::string& name);
  // Finds the target of a name nobody exported, per message (the cluster's virtual actors). It
  // runs on this node's workers and must not block.
  void SetResolver(internal::ExportResolver resolver) { exports_->SetResolver(std::move(resolver)); }
  // Stamped on every envelope this node sends from now on (peers check it against their view of
  // the cluster); 0 when not in a cluster.
  void SetClusterIncarnation(uint64_t incarnation) {
    cluster_incarnation_->store(incarnation, std::memory_order_relaxed);
  }

  // A reference to the actor exported as `name` by the node at `address` (host:port). The same
  // (address, name, Protocol) always gives the same reference. Nothing is checked remotely
  // here: messages for a name the peer does not export are rejected (and counted) there.
  template <typename P>
  absl::StatusOr<ActorRef<P>> Ref(const std::string& address, const std::string& name) {
    std::string key = absl::StrCat(address, "|", name);
    MutexLock lock(&mu_);
    if (shut_down_) return absl::FailedPreconditionError("the node has shut down");
    auto it = proxies_.find(std::make_pair(key, P::Id()));
    if (it != proxies_.end()) return ActorRef<P>::FromCell(it->second.cell);
    auto proxy = system_.Spawn<internal::RemoteProxy<P>>(
        internal::RemoteTarget(LinkToLocked(address), name, options_.name, options_.ask_timeout));
    if (!proxy.ok()) return proxy.status();
    proxies_.emplace(std::make_pair(std::move(key), P::Id()),
                     Proxy{address, internal::CellRef(proxy->cell())});
    return *proxy;
  }
  // The actor exported (or resolved) as `name` at `address` as a destination to send to
  // without a proxy actor, its asks carrying `ask_timeout` (the cluster's virtual refs route
  // this way; nothing is kept here).
  absl::StatusOr<internal::RemoteTarget> Target(const std::string& address,
                                                const std::string& name,
                                                absl::Duration ask_timeout) {
    MutexLock lock(&mu_);
    if (shut_down_) return absl::FailedPreconditionError("the node has shut down");
    return internal::RemoteTarget(LinkToLocked(address), name, options_.name, ask_timeout);
  }

  // `watcher` (whose Protocol lists NodeDown) hears when the node at `address` goes down.
  template <typename W>
  absl::Status MonitorNode(const std::string& address, const ActorRef<W>& watcher) {
    static_assert(W::template kAccepts<NodeDown>, "the watcher's Protocol must list NodeDown");
    std::shared_ptr<internal::Link> link;
    {
      MutexLock lock(&mu_);
      if (shut_down_) return absl::FailedPreconditionError("the node has shut down");
      link = LinkToLocked(address);
    }
    link->AddDownWatcher([watcher, address](const absl::Status& why) {
      watcher.Tell(NodeDown{address, why});
    });
    return absl::OkStatus();
  }
  // The same for the node behind a reference made by Ref(). NOT_FOUND for a local actor.
  template <typename P, typename W>
  absl::Status Monitor(const ActorRef<P>& remote, const ActorRef<W>& watcher) {
    std::string address;
    {
      MutexLock lock(&mu_);
      for (const auto& [key, p] : proxies_) {
        if (p.cell.get() == remote.cell()) address = p.address;
      }
    }
    if (address.empty()) return absl::NotFoundError("not a reference made by this RemoteNode");
    return MonitorNode(address, watcher);
  }

  // Also in the system's metrics (labelled node=NAME; peer=ADDRESS for the links this node
  // dials): troupe_remote_messages_{sent,acked,dead_letters}_total{peer},
  // troupe_remote_link_{connects,failures}_total{peer}, troupe_remote_link_up{peer},
  // troupe_remote_frames_sent_total{peer}, troupe_remote_sent_bytes_total{peer},
  // troupe_remote_messages_{received,delivered}_total, troupe_remote_messages_rejected_total
  // {reason}, troupe_remote_bad_streams_total, troupe_remote_identity_mismatches_total,
  // troupe_remote_deadlines_clamped_total, troupe_remote_paused_for_room_total.
  RemoteNodeStats stats() const;
  // Stops serving peers and closes every link (messages still unacked become dead letters).
  void Shutdown();

 private:
  struct Proxy {
    std::string address;
    internal::CellRef cell;
  };
  RemoteNode(ActorSystem& system, RemoteNodeOptions options);
  void CollectMetrics(metrics::Collection& out) const;
  std::shared_ptr<internal::Link> LinkToLocked(const std::string& address)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ActorSystem& system_;
  const RemoteNodeOptions options_;
  const uint64_t incarnation_;
  std::shared_ptr<internal::Exports> exports_ = std::make_shared<internal::Exports>();
  std::shared_ptr<std::atomic<uint64_t>> cluster_incarnation_ =
      std::make_shared<std::atomic<uint64_t>>(0);
  std::shared_ptr<internal::InboundCounters> counters_ =
      std::make_shared<internal::InboundCounters>();
  std::unique_ptr<GrpcGateway> gateway_;  // serves Node/Connect by name
  int port_ = 0;
  uint64_t collector_ = 0;

  mutable Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, std::shared_ptr<internal::Link>> links_ ABSL_GUARDED_BY(mu_);
  // By ("address|name", Protocol).
  absl::flat_hash_map<std::pair<std::string, const void*>, Proxy> proxies_ ABSL_GUARDED_BY(mu_);
};

}  // namespace troupe

#endif  // ACTORS_REMOTE_REMOTE_NODE_H_
