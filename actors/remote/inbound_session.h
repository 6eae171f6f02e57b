// InboundSession: the actor serving one peer node's Connect stream on this node. It checks the
// Hello (with TLS: the node name it claims must be one its certificate carries), then delivers
// each envelope of each batch to the exported actor it names, acks every batch, and writes back
// the answers to asks. Envelopes for names nobody exported, for types the target's Protocol
// does not list, with payloads that do not parse, from a peer the export's AccessPolicy refuses,
// or past their deadline are rejected and counted, never delivered; an ask among them is
// answered with the error.
//
// Limits against a hostile or runaway peer: an ask's deadline is clamped to max_ask_timeout;
// at most max_asks_in_flight asks wait for answers (more are refused RESOURCE_EXHAUSTED); and
// while a target's bounded mailbox is full the session stops delivering, acknowledging and
// reading (its stream's flow control) until there is room, so the sender backs off instead of
// the mailbox growing.
//
// Thread safety: an actor; Exports and InboundCounters are shared and thread-safe.
#ifndef ACTORS_REMOTE_INBOUND_SESSION_H_
#define ACTORS_REMOTE_INBOUND_SESSION_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "actors/grpc/stream_call.h"
#include "actors/remote/frame_check.h"
#include "actors/remote/wire_types.h"
#include "actors/tls/access_policy.h"
#include "framework/base/mutex.h"
#include "framework/system/actor_system.h"
#include "proto/node.grpc.pb.h"

namespace troupe::internal {

// One exported actor: how to decode for it, and who may reach it.
struct Export {
  ExportTable table;
  AccessPolicy access;
};

// Finds the target of a name nobody exported (the cluster's virtual actors: "~kind/id"), for a
// sender: the Export, or why not (delivered as the error of an ask, counted as unknown target).
using ExportResolver = std::function<absl::StatusOr<std::shared_ptr<const Export>>(
    const std::string& name, const RemoteSender& sender)>;

// The actors this node exported, by name, and the resolver for the rest.
class Exports {
 public:
  void Set(std::string name, std::shared_ptr<const Export> entry);
  bool Remove(const std::string& name);
  // NOT_FOUND if nobody exported `name` and the resolver (if any) does not know it either.
  absl::StatusOr<std::shared_ptr<const Export>> Find(const std::string& name,
                                                     const RemoteSender& sender) const;
  void SetResolver(ExportResolver resolver);

 private:
  mutable Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const Export>> exports_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const ExportResolver> resolver_ ABSL_GUARDED_BY(mu_);
};

struct InboundCounters {
  std::atomic<uint64_t> received{0};   // envelopes read from peers
  std::atomic<uint64_t> delivered{0};  // ... handed to an exported actor
  std::atomic<uint64_t> unknown_target{0};
  std::atomic<uint64_t> unknown_type{0};
  std::atomic<uint64_t> malformed{0};
  std::atomic<uint64_t> expired{0};
  std::atomic<uint64_t> permission_denied{0};  // the export's AccessPolicy refused the peer
  std::atomic<uint64_t> asks_refused{0};       // past max_asks_in_flight
  std::atomic<uint64_t> deadlines_clamped{0};  // asks whose deadline was past max_ask_timeout
  std::atomic<uint64_t> paused{0};             // times delivery waited for a full mailbox
  std::atomic<uint64_t> bad_streams{0};        // streams ended for a protocol violation
  std::atomic<uint64_t> identity_mismatches{0};  // ... a Hello naming another node (TLS)
};

struct InboundOptions {
  bool tls = false;  // peers are verified: check Hello names and AccessPolicies
  absl::Duration default_ask_timeout = absl::Seconds(30);  // an ask carrying no deadline
  absl::Duration max_ask_timeout = absl::Minutes(5);
  size_t max_asks_in_flight = 10000;
};

using NodeStream = GrpcStream<node::ClientFrame, node::ServerFrame>;

struct AskAnswered {
  uint64_t correlation;
  absl::StatusOr<WireMessage> answer;
  bool counted = true;  // an answer from the target (not a rejection): one fewer in flight
};
struct RetryDelivery {};  // a paused batch tries again
using InboundProtocol = Protocol<GrpcReceived<node::ClientFrame>, GrpcReadsDone,
                                 GrpcCallCancelled, AskAnswered, RetryDelivery>;

class InboundSession : public Actor<InboundSession, InboundProtocol> {
 public:
  InboundSession(NodeStream stream, std::shared_ptr<const Exports> exports,
                 std::shared_ptr<InboundCounters> counters, InboundOptions options);
  void OnStart() override;

  void Handle(GrpcReceived<node::ClientFrame> m);
  void Handle(AskAnswered m);
  void Handle(RetryDelivery);
  void Handle(GrpcReadsDone);
  void Handle(GrpcCallCancelled);

 private:
  // Delivers the batches waiting, in order, from where a full mailbox paused them; acks each
  // completed batch. Returns false if it paused again.
  bool DeliverWaiting();
  // false: the target's mailbox is full; try this envelope again later.
  bool Deliver(const node::Envelope& envelope);
  void Answer(uint64_t correlation, const absl::Status& error);
  void EndBadStream(absl::Status why);

  NodeStream stream_;
  std::shared_ptr<const Exports> exports_;
  std::shared_ptr<InboundCounters> counters_;
  const InboundOptions options_;
  InboundFrameCheck check_;  // hello first, then consecutively numbered batches
  RemoteSender sender_;      // set by the Hello
  // Batches read and not yet fully delivered (holding their stream credit: while a full
  // mailbox pauses delivery, the stream stops reading after max_unprocessed of them).
  std::deque<GrpcReceived<node::ClientFrame>> waiting_;
  int next_envelope_ = 0;  // of waiting_.front()
  bool retry_armed_ = false;
  absl::Duration retry_delay_ = absl::Milliseconds(1);
  size_t asks_in_flight_ = 0;
};

}  // namespace troupe::internal

#endif  // ACTORS_REMOTE_INBOUND_SESSION_H_
