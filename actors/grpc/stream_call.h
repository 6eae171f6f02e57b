// GrpcStream: a gRPC stream served by an actor (the GrpcGateway's streaming form).
//
//   grpc::ServerBidiReactor<EchoRequest, EchoReply>* Chat(
//       grpc::CallbackServerContext* context) override {
//     return troupe::ServeStream<EchoRequest, EchoReply>(context, [this](auto stream) {
//       system_.Spawn<ChatSession>(std::move(stream));   // the actor calls stream.Start(self)
//     });
//   }
//   // A server-streaming method (one request, a stream of replies) is served the same way:
//   grpc::ServerWriteReactor<EchoReply>* Repeat(grpc::CallbackServerContext* context,
//                                               const EchoRequest* request) override {
//     return troupe::ServeServerStream<EchoRequest, EchoReply>(context, *request,
//                                                           [this](auto stream) { ... });
//   }
//
// For a server stream the actor sees the same events as for a bidi stream whose client sent one
// request and half-closed: GrpcReceived<Req> (the request), then GrpcReadsDone.
//
// The owning actor's Protocol lists GrpcReceived<Req> and GrpcReadsDone; GrpcCallCancelled and
// GrpcWritable are sent only if listed. Messages arrive in order both ways. Flow control: a
// request counts as unprocessed until its GrpcReceived message is destroyed (handled, or
// dropped); past max_unprocessed the stream stops reading, so a slow actor slows the client
// through HTTP/2's window instead of growing a mailbox. Replies queue in the stream and are
// written one at a time; a burst of them leaves the socket together (each but the last with
// gRPC's buffer hint, within bounds: see HintLocked), not a sendmsg each. Past high_water_writes
// queued replies it also stops reading (a client that does not read its replies slows itself
// down) until they drain to half of it (then GrpcWritable), and a write past max_queued_writes
// ends the call with RESOURCE_EXHAUSTED. Deadline expiry and client cancellation reach the actor
// as GrpcCallCancelled; writes after that are dropped. An actor that drops its GrpcStream
// without finishing ends the call with ABORTED.
//
// Thread safety: GrpcStream is owned by one actor (move-only); its methods may be called from
// any thread. No gRPC thread ever waits for the actor.
#ifndef ACTORS_GRPC_STREAM_CALL_H_
#define ACTORS_GRPC_STREAM_CALL_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "actors/grpc/grpc_status.h"
#include "actors/grpc/grpc_trace.h"
#include "actors/tls/peer_identity.h"
#include "framework/actor/actor_ref.h"
#include "framework/base/credit.h"
#include "framework/base/mutex.h"
#include "grpcpp/grpcpp.h"

namespace troupe {

struct GrpcStreamOptions {
  size_t max_unprocessed = 64;      // requests delivered to the actor and not yet handled
  size_t high_water_writes = 64;    // queued replies above which reading pauses
  size_t max_queued_writes = 4096;  // a write beyond this ends the call: RESOURCE_EXHAUSTED
};

// One request from the client. Its credit returns when the message is destroyed.
template <typename Req>
struct GrpcReceived {
  uint64_t call_id;
  Req message;
  Credit credit;
};
// The client will send nothing more (it half-closed). Write the last replies, then Finish().
struct GrpcReadsDone {
  uint64_t call_id;
};
// The replies queued went past high_water_writes and are back down to half of it: the owner may
// write again (sent only to owners whose Protocol lists it, like TcpWritable).
struct GrpcWritable {
  uint64_t call_id;
};
// The call ended without the actor: DEADLINE_EXCEEDED, CANCELLED (the client went away or the
// server shuts down) or UNAVAILABLE (a reply could not be written). Writes are dropped from now.
struct GrpcCallCancelled {
  uint64_t call_id;
  absl::Status status;
};

namespace internal {

inline uint64_t NextGrpcCallId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

// What the core asks of the reactor: a bidi reactor, or a server-streaming one whose "reads"
// replay the single request it was called with.
template <typename Req, typename Resp>
class StreamOperations {
 public:
  virtual void StartRead(Req* buffer) = 0;
  // `options` carries gRPC's buffer hint for a reply with more queued behind it (HintLocked).
  virtual void StartWrite(const Resp* reply, grpc::WriteOptions options) = 0;
  virtual void Finish(grpc::Status status) = 0;

 protected:
  ~StreamOperations() = default;
};

// The state shared by the gRPC reactor (gRPC threads) and the GrpcStream handle (the actor).
// One thread at a time "pumps": it takes the next gRPC operation to start under the lock and
// starts it outside the lock, so gRPC reactions that run inline never meet a held lock, and no
// operation is ever started after Finish().
template <typename Req, typename Resp>
class StreamCallCore final : public CreditSink,
                             public std::enable_shared_from_this<StreamCallCore<Req, Resp>> {
 public:
  using Reactor = StreamOperations<Req, Resp>;
  struct Sink {
    std::function<void(GrpcReceived<Req>)> received;
    std::function<void(GrpcReadsDone)> reads_done;
    std::function<void(GrpcCallCancelled)> cancelled;
    std::function<void(GrpcWritable)> writable;
  };

  StreamCallCore(Reactor* reactor, grpc::ServerContextBase* context, GrpcStreamOptions options,
                 int home_worker = -1)
      : id_(NextGrpcCallId()),
        home_worker_(home_worker),
        peer_(context != nullptr ? PeerIdentityOf(*context) : PeerIdentity{}),
        trace_(context != nullptr ? ServedCallTrace(*context) : std::nullopt),
        reactor_(reactor),
        context_(context),
        options_(options) {}

  uint64_t id() const { return id_; }
  // The worker whose completion queue serves the call, or -1 (ByteTransport::home_worker).
  int home_worker() const { return home_worker_; }
  const PeerIdentity& peer() const { return peer_; }
  // The gateway's span of the call, if the caller sent a traceparent (grpc_trace.h).
  const std::optional<TraceContext>& trace() const { return trace_; }

  // --- the actor's side ---
  absl::Status Start(Sink sink) {
    mu_.Lock();
    if (sink_) {
      mu_.Unlock();
      return absl::FailedPreconditionError("the stream was already started");
    }
    sink_ = std::make_shared<Sink>(std::move(sink));
    if (cancelled_.has_value()) NotifyCancelledLater(*cancelled_);
    PumpAndUnlock();
    return absl::OkStatus();
  }
  absl::Status Write(Resp reply) {
    absl::Status result;
    mu_.Lock();
    if (finish_.has_value() || cancelled_.has_value()) {
      mu_.Unlock();
      return absl::FailedPreconditionError("the call is over");
    }
    if (writes_.size() >= options_.max_queued_writes) {
      result = absl::ResourceExhaustedError("the client does not read its replies");
      finish_ = ToGrpcStatus(result);
      DropQueuedLocked();
    } else {
      writes_.push_back(std::move(reply));
      if (writes_.size() > options_.high_water_writes) over_high_water_ = true;
    }
    PumpAndUnlock();
    return result;
  }
  void Finish(const absl::Status& status) {
    mu_.Lock();
    if (finish_.has_value()) {
      mu_.Unlock();
      return;
    }
    finish_ = ToGrpcStatus(status);
    PumpAndUnlock();
  }
  // Ends the call now, dropping the replies not yet written (even one gRPC is stuck writing to a
  // client that does not read): the pump cancels the call, then finishes it.
  void Cancel() {
    mu_.Lock();
    if (cancelled_.has_value() || finished_) {
      mu_.Unlock();
      return;
    }
    cancel_requested_ = true;
    DropQueuedLocked();
    PumpAndUnlock();
  }
  size_t queued_writes() const {
    MutexLock lock(&mu_);
    return writes_.size();
  }
  bool backpressured() const {
    MutexLock lock(&mu_);
    return writes_.size() > options_.high_water_writes;
  }
  bool finished() const {
    MutexLock lock(&mu_);
    return finish_.has_value() || cancelled_.has_value();
  }
  uint64_t writes_done() const {
    MutexLock lock(&mu_);
    return writes_done_;
  }

  // --- gRPC's side (reactions) ---
  void OnReadDone(bool ok) {
    // reading_ stays true until the request is handed to the actor, so the next read (and its
    // request) cannot overtake this one.
    std::shared_ptr<Sink> sink;
    {
      MutexLock lock(&mu_);
      if (!ok) {
        reads_done_ = true;
        // A failed read is a half-close, unless the call was cancelled (OnCancel may come later).
        if (context_ != nullptr && context_->IsCancelled()) CancelLocked(CancelReason(*context_));
      }
      if (!cancelled_.has_value()) sink = sink_;
      if (sink && ok) ++unprocessed_;  // until the message's credit comes back
    }
    if (sink && ok) {
      Req message = std::move(read_buffer_);
      read_buffer_ = Req();
      sink->received(
          GrpcReceived<Req>{id_, std::move(message), Credit(this->shared_from_this(), 1)});
    } else if (sink) {
      sink->reads_done(GrpcReadsDone{id_});
    }
    mu_.Lock();
    reading_ = false;
    PumpAndUnlock();
  }
  void OnWriteDone(bool ok) {
    mu_.Lock();
    writing_ = false;
    if (!writes_.empty()) writes_.pop_front();
    if (ok) ++writes_done_;
    if (over_high_water_ && writes_.size() <= options_.high_water_writes / 2) {
      over_high_water_ = false;
      writable_to_tell_ = true;
    }
    if (!ok && !cancelled_.has_value()) {
      CancelLocked(absl::UnavailableError("a reply could not be written: the stream is broken"));
    }
    PumpAndUnlock();
  }
  void OnCancel() {
    mu_.Lock();
    CancelLocked(CancelReason(*context_));
    PumpAndUnlock();
  }
  void OnDone() {
    std::shared_ptr<Sink> sink;  // released outside the lock: it holds the actor's reference
    MutexLock lock(&mu_);
    reactor_ = nullptr;
    context_ = nullptr;
    writes_.clear();
    sink = std::move(sink_);
  }
  void ReturnCredit(size_t amount) override {
    mu_.Lock();
    unprocessed_ -= amount;
    PumpAndUnlock();
  }

 private:
  enum class Op { kNone, kRead, kWrite, kFinish, kCancel };

  // Whether `reply` (at the front of the queue) goes with gRPC's buffer hint, so that a burst of
  // replies leaves in one sendmsg at the write that follows instead of one each. gRPC holds a
  // hinted message back, and completes its write at once, while the stream's unsent bytes stay
  // under the transport's write buffer (64 KiB by default); past that a hinted write would wait
  // for flow control with no flush to come. So a write is hinted only
  //  - if another reply waits behind it: that write, or the finish if the replies are dropped
  //    (trailing metadata always flushes), sends it;
  //  - while the hinted bytes since the last unhinted write stay under kMaxHintedBytes: a
  //    hinted write never waits on a slow reader. Writes go one at a time, so the next one starts
  //    only once an unhinted write has completed, that is once nothing before it is unsent: the
  //    count starts again at every unhinted write;
  //  - never for the call's first write (none has completed yet), which carries the initial
  //    metadata: gRPC completes it only once that is sent, and a hinted one is not (the client
  //    would wait forever). A failed write ends the call, so writes_done_ counts every write.
  bool HintLocked(const Resp& reply) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    size_t bytes = kGrpcMessageHeaderBytes;
    if (writes_.size() >= 2 && writes_done_ > 0) {
      if constexpr (std::is_same_v<Resp, grpc::ByteBuffer>) {
        bytes += reply.Length();
      } else {
        bytes += reply.ByteSizeLong();
      }
      if (hinted_bytes_ + bytes <= kMaxHintedBytes) {
        hinted_bytes_ += bytes;
        return true;
      }
    }
    hinted_bytes_ = 0;
    return false;
  }

  void CancelLocked(absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (cancelled_.has_value() || reactor_ == nullptr) return;
    cancelled_ = status;
    DropQueuedLocked();
    if (!finish_.has_value()) finish_ = ToGrpcStatus(status);
    if (sink_) NotifyCancelledLater(status);
  }
  // Drops the replies not yet handed to gRPC (the one being written must stay put).
  void DropQueuedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writes_.erase(writing_ ? writes_.begin() + 1 : writes_.begin(), writes_.end());
  }
  // Cancellation is told to the actor by the pump (outside the lock).
  void NotifyCancelledLater(absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    cancel_to_tell_ = std::move(status);
  }

  Op NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || reactor_ == nullptr) return Op::kNone;
    if (cancelled_.has_value()) return Op::kFinish;
    if (cancel_requested_) {
      // The context lives until OnDone, which comes only after our Finish: safe to cancel.
      if (context_ != nullptr) return Op::kCancel;
      cancel_requested_ = false;
      CancelLocked(absl::CancelledError("the server ended the call"));
      return Op::kFinish;
    }
    if (!writing_ && !writes_.empty()) return Op::kWrite;
    if (finish_.has_value()) return writing_ ? Op::kNone : Op::kFinish;
    if (sink_ && !reading_ && !reads_done_ && unprocessed_ < options_.max_unprocessed &&
        writes_.size() <= options_.high_water_writes) {
      return Op::kRead;
    }
    return Op::kNone;
  }

  // Called with mu_ held, right after the caller's change of state; returns with it released.
  // Unless another thread is pumping (it re-checks the state after its current operation, so it
  // sees this change), becomes the pumping thread: starts the operations the state calls for,
  // one at a time and outside the lock, until none is left. So a change costs one critical
  // section when it starts nothing, and one more per operation it starts.
  void PumpAndUnlock() ABSL_UNLOCK_FUNCTION(mu_) {
    if (pumping_) {
      mu_.Unlock();
      return;
    }
    pumping_ = true;
    for (;;) {
      // mu_ is held here.
      std::optional<absl::Status> tell = std::exchange(cancel_to_tell_, std::nullopt);
      const bool writable = std::exchange(writable_to_tell_, false) && !cancelled_.has_value();
      const Op op = NextLocked();
      Reactor* const reactor = reactor_;
      const Resp* write = nullptr;
      grpc::WriteOptions write_options;
      grpc::ServerContextBase* context = nullptr;
      grpc::Status finish;
      switch (op) {
        case Op::kNone:
          if (!tell.has_value() && !writable) {
            pumping_ = false;
            mu_.Unlock();
            return;
          }
          break;
        case Op::kRead:
          reading_ = true;
          break;
        case Op::kWrite:
          writing_ = true;
          write = &writes_.front();  // deque: stays put while later replies are queued
          if (HintLocked(*write)) write_options.set_buffer_hint();
          break;
        case Op::kFinish:
          finished_ = true;
          finish = *finish_;
          break;
        case Op::kCancel:
          cancel_requested_ = false;
          context = context_;
          break;
      }
      // The sink is copied only to tell it something: it is released outside the lock (it holds
      // the actor's reference) and OnDone may drop the core's meanwhile.
      std::shared_ptr<Sink> sink = tell.has_value() || writable ? sink_ : nullptr;
      mu_.Unlock();
      if (tell.has_value() && sink && sink->cancelled)
        sink->cancelled(GrpcCallCancelled{id_, *tell});
      if (writable && sink && sink->writable) sink->writable(GrpcWritable{id_});
      switch (op) {
        case Op::kNone:
          break;
        case Op::kRead:
          reactor->StartRead(&read_buffer_);
          break;
        case Op::kWrite:
          reactor->StartWrite(write, write_options);
          break;
        case Op::kFinish:
          reactor->Finish(finish);
          break;
        case Op::kCancel:
          context->TryCancel();  // OnCancel follows, then the pump finishes the call
          break;
      }
      sink.reset();
      mu_.Lock();
    }
  }

  const uint64_t id_;
  const int home_worker_;
  const PeerIdentity peer_;  // who called, as the TLS handshake proved it
  const std::optional<TraceContext> trace_;
  mutable Mutex mu_;
  Reactor* reactor_ ABSL_GUARDED_BY(mu_);  // null after OnDone
  grpc::ServerContextBase* context_ ABSL_GUARDED_BY(mu_);
  const GrpcStreamOptions options_;
  std::shared_ptr<Sink> sink_ ABSL_GUARDED_BY(mu_);
  Req read_buffer_;  // written by gRPC between StartRead and OnReadDone only
  std::deque<Resp> writes_ ABSL_GUARDED_BY(mu_);
  size_t unprocessed_ ABSL_GUARDED_BY(mu_) = 0;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // Finish() was called on the reactor
  bool pumping_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);     // requested
  std::optional<absl::Status> cancelled_ ABSL_GUARDED_BY(mu_);  // the call ended without us
  std::optional<absl::Status> cancel_to_tell_ ABSL_GUARDED_BY(mu_);
  bool over_high_water_ ABSL_GUARDED_BY(mu_) = false;  // since the last GrpcWritable
  bool writable_to_tell_ ABSL_GUARDED_BY(mu_) = false;
  bool cancel_requested_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t writes_done_ ABSL_GUARDED_BY(mu_) = 0;       // replies gRPC has written
  // A quarter of gRPC's default write buffer; the message header is gRPC's length prefix.
  static constexpr size_t kMaxHintedBytes = 16 * 1024;
  static constexpr size_t kGrpcMessageHeaderBytes = 5;
  size_t hinted_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // hinted since the last unhinted write
};

// What both reactors share: the core, the write side, cancellation and the end of the call.
// `GrpcReactor` is grpc::ServerBidiReactor<Req, Resp> or grpc::ServerWriteReactor<Resp>.
template <typename GrpcReactor, typename Req, typename Resp>
class StreamReactorBase : public GrpcReactor, public StreamOperations<Req, Resp> {
 public:
  StreamReactorBase(grpc::ServerContextBase* context, GrpcStreamOptions options)
      : core_(std::make_shared<StreamCallCore<Req, Resp>>(this, context, options)) {}
  const std::shared_ptr<StreamCallCore<Req, Resp>>& core() const { return core_; }

  void StartWrite(const Resp* reply, grpc::WriteOptions options) override {
    GrpcReactor::StartWrite(reply, options);
  }
  void Finish(grpc::Status status) override { GrpcReactor::Finish(status); }
  void OnWriteDone(bool ok) override { core_->OnWriteDone(ok); }
  void OnCancel() override { core_->OnCancel(); }
  void OnDone() override {
    core_->OnDone();
    delete this;
  }

 protected:
  std::shared_ptr<StreamCallCore<Req, Resp>> core_;
};

template <typename Req, typename Resp>
class StreamCallReactor final
    : public StreamReactorBase<grpc::ServerBidiReactor<Req, Resp>, Req, Resp> {
 public:
  using StreamReactorBase<grpc::ServerBidiReactor<Req, Resp>, Req, Resp>::StreamReactorBase;
  void StartRead(Req* buffer) override { grpc::ServerBidiReactor<Req, Resp>::StartRead(buffer); }
  void OnReadDone(bool ok) override { this->core_->OnReadDone(ok); }
};

// A server-streaming call: the first read yields the request, the second reports the half-close.
// StartRead is only called by the core's pump, which tolerates the inline OnReadDone.
template <typename Req, typename Resp>
class ServerStreamCallReactor final
    : public StreamReactorBase<grpc::ServerWriteReactor<Resp>, Req, Resp> {
 public:
  ServerStreamCallReactor(grpc::ServerContextBase* context, Req request,
                          GrpcStreamOptions options)
      : StreamReactorBase<grpc::ServerWriteReactor<Resp>, Req, Resp>(context, options),
        request_(std::move(request)) {}

  void StartRead(Req* buffer) override {
    if (request_.has_value()) {
      *buffer = std::move(*request_);
      request_.reset();
      this->core_->OnReadDone(true);
    } else {
      this->core_->OnReadDone(false);
    }
  }

 private:
  std::optional<Req> request_;  // touched by the pumping thread only
};

}  // namespace internal

template <typename Req, typename Resp>
class GrpcStream {
 public:
  GrpcStream() = default;
  explicit GrpcStream(std::shared_ptr<internal::StreamCallCore<Req, Resp>> core)
      : core_(std::move(core)) {}
  GrpcStream(GrpcStream&&) noexcept = default;
  GrpcStream& operator=(GrpcStream&& other) noexcept {
    if (this != &other) {
      Abandon();
      core_ = std::move(other.core_);
    }
    return *this;
  }
  ~GrpcStream() { Abandon(); }

  // Starts reading; requests and events go to `owner` (normally the actor itself). A call on
  // the worker queues also homes `owner` at the call's worker (the latest Start wins, as for
  // TCP streams). FAILED_PRECONDITION if already started or if this handle is empty (moved from).
  template <typename P>
  absl::Status Start(const ActorRef<P>& owner) {
    static_assert(P::template kAccepts<GrpcReceived<Req>>,
                  "the owner's Protocol must list GrpcReceived<Req>");
    static_assert(P::template kAccepts<GrpcReadsDone>,
                  "the owner's Protocol must list GrpcReadsDone");
    if (!core_) return Empty();
    // On worker queues the owner runs on the call's worker (its home, as a TCP stream's owner
    // runs on its socket's): its writes start on the thread that polls the call's queue.
    if (const int home = core_->home_worker(); home >= 0) {
      if (internal::ActorCell* cell = owner.cell()) cell->SetHomeWorker(home);
    }
    typename internal::StreamCallCore<Req, Resp>::Sink sink;
    // What the call brings the actor travels in the call's trace (if the caller sent one).
    const std::optional<TraceContext> trace = core_->trace();
    auto tell = [owner, trace](auto m) {
      ScopedTrace traced(trace.has_value() ? &*trace : nullptr);
      owner.Tell(std::move(m));
    };
    sink.received = [tell](GrpcReceived<Req> m) { tell(std::move(m)); };
    sink.reads_done = [tell](GrpcReadsDone m) { tell(m); };
    if constexpr (P::template kAccepts<GrpcCallCancelled>) {
      sink.cancelled = [tell](GrpcCallCancelled m) { tell(std::move(m)); };
    }
    if constexpr (P::template kAccepts<GrpcWritable>) {
      sink.writable = [tell](GrpcWritable m) { tell(m); };
    }
    return core_->Start(std::move(sink));
  }
  // Queues a reply (sent in order). FAILED_PRECONDITION once the call is over;
  // RESOURCE_EXHAUSTED past max_queued_writes (the call then ends with that status).
  absl::Status Write(Resp reply) { return core_ ? core_->Write(std::move(reply)) : Empty(); }
  // Ends the call with `status` once the queued replies are written. Later calls are ignored.
  void Finish(const absl::Status& status = absl::OkStatus()) {
    if (core_) core_->Finish(status);
  }
  // Ends the call now, dropping the replies not yet written: the client sees CANCELLED (for a
  // client that does not read, whose replies would never be written). Then GrpcCallCancelled.
  void Cancel() {
    if (core_) core_->Cancel();
  }

  // True while the replies queued exceed high_water_writes (reading is paused meanwhile).
  bool backpressured() const { return core_ && core_->backpressured(); }
  size_t queued_writes() const { return core_ ? core_->queued_writes() : 0; }
  // Replies gRPC has written so far (the client's progress).
  uint64_t writes_done() const { return core_ ? core_->writes_done() : 0; }
  // Who called (verified by TLS; see actors/tls/peer_identity.h).
  const PeerIdentity& peer() const {
    static const PeerIdentity kNobody;
    return core_ ? core_->peer() : kNobody;
  }
  // True once the call is over or finishing (Finish called, cancelled, or empty handle).
  bool finished() const { return !core_ || core_->finished(); }
  uint64_t id() const { return core_ ? core_->id() : 0; }
  explicit operator bool() const { return core_ != nullptr; }

 private:
  static absl::Status Empty() { return absl::FailedPreconditionError("empty GrpcStream"); }
  void Abandon() {
    if (core_) core_->Finish(absl::AbortedError("the actor serving this stream dropped it"));
    core_.reset();
  }
  std::shared_ptr<internal::StreamCallCore<Req, Resp>> core_;
};

// Serves a bidi streaming method: `on_stream(GrpcStream<Req, Resp>)` runs on the gRPC thread
// and hands the stream to an actor (spawn one, or tell one). Returns the call's reactor.
template <typename Req, typename Resp, typename OnStream>
grpc::ServerBidiReactor<Req, Resp>* ServeStream(grpc::ServerContextBase* context,
                                                OnStream on_stream,
                                                GrpcStreamOptions options = {}) {
  auto* reactor = new internal::StreamCallReactor<Req, Resp>(context, options);
  const std::optional<TraceContext> trace = reactor->core()->trace();
  ScopedTrace traced(trace.has_value() ? &*trace : nullptr);  // what on_stream sends
  on_stream(GrpcStream<Req, Resp>(reactor->core()));
  return reactor;
}

// Serves a server-streaming method (one request, a stream of replies): `on_stream` runs on the
// gRPC thread and hands the GrpcStream to an actor; the actor receives `request` as its one
// GrpcReceived<Req>, then GrpcReadsDone. Returns the call's reactor.
template <typename Req, typename Resp, typename OnStream>
grpc::ServerWriteReactor<Resp>* ServeServerStream(grpc::ServerContextBase* context,
                                                  const Req& request, OnStream on_stream,
                                                  GrpcStreamOptions options = {}) {
  auto* reactor = new internal::ServerStreamCallReactor<Req, Resp>(context, request, options);
  const std::optional<TraceContext> trace = reactor->core()->trace();
  ScopedTrace traced(trace.has_value() ? &*trace : nullptr);  // what on_stream sends
  on_stream(GrpcStream<Req, Resp>(reactor->core()));
  return reactor;
}

}  // namespace troupe

#endif  // ACTORS_GRPC_STREAM_CALL_H_
