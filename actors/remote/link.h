// Link: this node's outbound connection to one peer node (one gRPC Connect stream at a time).
//
// Envelopes are numbered, batched into frames and written in the order Send() was called; the
// peer acks them cumulatively. Delivery is at most once: nothing is resent. While the link is
// down (in back-off between attempts) a Send is a dead letter at once; when a stream breaks,
// every envelope not yet acked becomes a dead letter and every pending ask fails UNAVAILABLE.
// Reconnection uses exponential back-off. Watchers hear each time the link goes down.
//
// Thread safety: all public methods from any thread. gRPC reactions run on gRPC threads and
// never wait for an actor; Shutdown() waits for the stream to end.
#ifndef ACTORS_REMOTE_LINK_H_
#define ACTORS_REMOTE_LINK_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "actors/remote/wire_types.h"
#include "actors/tls/tls_options.h"
#include "framework/base/mutex.h"
#include "framework/base/notification.h"
#include "framework/system/actor_system.h"
#include "proto/node.grpc.pb.h"

namespace troupe::internal {

struct LinkOptions {
  std::string address;     // host:port of the peer node
  std::string local_node;  // this node's name (sent in the Hello)
  uint64_t incarnation = 0;
  int max_message_bytes = 4 << 20;
  size_t max_unacked = 100000;  // envelopes sent or queued without an ack
  absl::Duration backoff_initial = absl::Milliseconds(100);
  absl::Duration backoff_max = absl::Seconds(5);
  // Pings while the link is quiet; no answer within keepalive_timeout drops the link.
  absl::Duration keepalive_time = absl::Seconds(30);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  std::optional<TlsChannelOptions> tls;  // mutual TLS (files checked by RemoteNode::Start)
  // Stamped on every envelope (RemoteNode::SetClusterIncarnation); may be null.
  std::shared_ptr<const std::atomic<uint64_t>> cluster_incarnation;
};

struct LinkStats {
  uint64_t sent = 0;          // messages given to Send; each ends up as one of:
  uint64_t acked = 0;         // ... acknowledged by the peer (delivered or rejected there)
  uint64_t dead_letters = 0;  // ... reported as dead letters (or still awaiting an ack)
  uint64_t connects = 0;      // streams that reached the peer
  uint64_t failures = 0;      // streams that broke or could not connect
  uint64_t frames = 0;        // batch frames written (each carries one or more messages)
  uint64_t frame_bytes = 0;   // ... and the messages' bytes in them
  bool up = false;
};

class Link : public std::enable_shared_from_this<Link> {
 public:
  using DownWatcher = std::function<void(const absl::Status&)>;

  static std::shared_ptr<Link> Create(ActorSystem& system, LinkOptions options);
  ~Link();

  // Queues `envelope` (its sequence is assigned here). `type` names the message for dead
  // letters (static storage). With `reply`, the envelope is an ask: `reply` gets the answer, or
  // UNAVAILABLE if the link breaks first. The status says whether it went out or was dead-lettered.
  absl::Status Send(node::Envelope envelope, std::string_view type, WireReplyFn reply = nullptr);

  // `watcher` runs (on some gRPC or timer thread) each time the link goes down, and at once if
  // it is down now.
  void AddDownWatcher(DownWatcher watcher);
  LinkStats stats() const;
  const std::string& address() const { return options_.address; }
  // Ends the stream and stops reconnecting; pending envelopes become dead letters.
  void Shutdown();

 private:
  class Call;
  enum class State { kConnecting, kUp, kBackoff, kShutdown };

  Link(ActorSystem& system, LinkOptions options);
  void Connect();
  // From the Call (gRPC threads).
  void OnWelcome();
  void OnServerFrame(const node::ServerFrame& frame);
  void OnCallDone(Call* call, const grpc::Status& status);
  // Takes the next frame to write for `call`, or returns false (the writer stops; if the
  // stream has ended, *release_hold says the caller must release the call's hold).
  bool NextFrame(Call* call, node::ClientFrame* frame, bool* release_hold);
  // The stream ended (a read or write failed). True: the caller must release the hold.
  bool StreamEnded(Call* call, bool writer_stopped);
  absl::Status UnreachableLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DeadLetterLocked(std::string_view type, DeadLetterReason reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ActorSystem& system_;
  const LinkOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<node::Node::Stub> stub_;

  mutable Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kConnecting;
  Call* call_ ABSL_GUARDED_BY(mu_) = nullptr;  // the live stream; null from its OnCallDone on
  std::shared_ptr<grpc::ClientContext> call_context_ ABSL_GUARDED_BY(mu_);
  // Each stream's "OnDone has finished" (those not yet seen finished). A stream's OnDone runs on
  // past OnCallDone (which clears call_) while it holds a reference to this Link; Shutdown waits
  // for every one, so that the Link's last reference, and its channel, never go on a gRPC
  // thread after the node is gone (the process could be exiting: gRPC's callback threads then
  // free their queue twice).
  std::vector<std::shared_ptr<Notification>> calls_done_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;        // a write is in progress on call_
  bool closing_ ABSL_GUARDED_BY(mu_) = false;        // call_ has ended; no more writes
  bool hold_released_ ABSL_GUARDED_BY(mu_) = false;  // call_'s hold was released
  bool down_reported_ ABSL_GUARDED_BY(mu_) = false;  // watchers heard of this outage
  absl::Status last_failure_ ABSL_GUARDED_BY(mu_);
  absl::Duration backoff_ ABSL_GUARDED_BY(mu_);
  TimerHandle retry_timer_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_correlation_ ABSL_GUARDED_BY(mu_) = 1;
  std::deque<node::Envelope> outbox_ ABSL_GUARDED_BY(mu_);  // not yet handed to gRPC
  struct Unacked {
    uint64_t sequence;
    std::string_view type;
  };
  std::deque<Unacked> unacked_ ABSL_GUARDED_BY(mu_);  // includes the outbox
  absl::flat_hash_map<uint64_t, WireReplyFn> pending_asks_ ABSL_GUARDED_BY(mu_);
  std::vector<DownWatcher> watchers_ ABSL_GUARDED_BY(mu_);
  LinkStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace troupe::internal

#endif  // ACTORS_REMOTE_LINK_H_
