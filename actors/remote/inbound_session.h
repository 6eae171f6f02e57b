// InboundSession: the actor serving one peer node's Connect stream on this node. It checks the
// Hello, then delivers each envelope of each batch to the exported actor it names, acks every
// batch, and writes back the answers to asks. Envelopes for names nobody exported, for types
// the target's Protocol does not list, with payloads that do not parse, or past their deadline
// are rejected and counted, never delivered; an ask among them is answered with the error.
//
// Thread safety: an actor; Exports and InboundCounters are shared and thread-safe.
#ifndef ACTORS_REMOTE_INBOUND_SESSION_H_
#define ACTORS_REMOTE_INBOUND_SESSION_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "actors/grpc/stream_call.h"
#include "actors/remote/frame_check.h"
#include "actors/remote/wire_types.h"
#include "framework/base/mutex.h"
#include "framework/system/actor_system.h"
#include "proto/node.grpc.pb.h"

namespace troupe::internal {

// The actors this node exported, by name.
class Exports {
 public:
  void Set(std::string name, std::shared_ptr<const ExportTable> table);
  bool Remove(const std::string& name);
  std::shared_ptr<const ExportTable> Find(const std::string& name) const;

 private:
  mutable Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const ExportTable>> tables_ ABSL_GUARDED_BY(mu_);
};

struct InboundCounters {
  std::atomic<uint64_t> received{0};   // envelopes read from peers
  std::atomic<uint64_t> delivered{0};  // ... handed to an exported actor
  std::atomic<uint64_t> unknown_target{0};
  std::atomic<uint64_t> unknown_type{0};
  std::atomic<uint64_t> malformed{0};
  std::atomic<uint64_t> expired{0};
  std::atomic<uint64_t> bad_streams{0};  // streams ended for a protocol violation
};

using NodeStream = GrpcStream<node::ClientFrame, node::ServerFrame>;

struct AskAnswered {
  uint64_t correlation;
  absl::StatusOr<WireMessage> answer;
};
using InboundProtocol =
    Protocol<GrpcReceived<node::ClientFrame>, GrpcReadsDone, GrpcCallCancelled, AskAnswered>;

class InboundSession : public Actor<InboundSession, InboundProtocol> {
 public:
  InboundSession(NodeStream stream, std::shared_ptr<const Exports> exports,
                 std::shared_ptr<InboundCounters> counters, absl::Duration default_ask_timeout);
  void OnStart() override;

  void Handle(GrpcReceived<node::ClientFrame> m);
  void Handle(AskAnswered m);
  void Handle(GrpcReadsDone);
  void Handle(GrpcCallCancelled);

 private:
  void Deliver(const node::Envelope& envelope);
  void Answer(uint64_t correlation, const absl::Status& error);
  void EndBadStream(absl::Status why);

  NodeStream stream_;
  std::shared_ptr<const Exports> exports_;
  std::shared_ptr<InboundCounters> counters_;
  const absl::Duration default_ask_timeout_;
  InboundFrameCheck check_;  // hello first, then consecutively numbered batches
};

}  // namespace troupe::internal

#endif  // ACTORS_REMOTE_INBOUND_SESSION_H_
