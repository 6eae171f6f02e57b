// TcpStream: an actor's handle on one TCP connection.
//
//   class Echo : public troupe::Actor<Echo, troupe::Protocol<TcpReceived, TcpClosed>> {
//    public:
//     explicit Echo(troupe::TcpStream s) : stream_(std::move(s)) {}
//     void OnStart() override { stream_.Start(self()); }
//     void Handle(TcpReceived& m) { (void)stream_.Write(std::move(m.bytes)); }
//     void Handle(TcpClosed&) { ctx().Stop(); }
//    private:
//     troupe::TcpStream stream_;
//   };
//
// Received bytes arrive as messages (see tcp_messages.h), framed per TcpStreamOptions. Writes
// go through a bounded outbound queue: past `high_water_bytes` the stream is backpressured
// (backpressured() is true, reading from the peer pauses) until it drains, then TcpWritable is
// sent; past `max_queued_bytes` the connection is closed with RESOURCE_EXHAUSTED, so a peer
// that never reads cannot grow our memory. Inbound likewise: past `max_unprocessed_bytes`
// received but not yet handled by the owner, reading pauses until it catches up. Errors end as
// TcpClosed with a status, never as exceptions.
//
// Thread safety: a TcpStream is used by its owning actor (one thread at a time); it is
// move-only. Its socket belongs to an IoBackend: a call goes straight to the backend when the
// calling thread drives it or can take its hold (io/backend.h: on epoll any worker may while
// nobody else drives it), else it is posted to the thread that does, in order. With one epoll
// reactor for every worker (IoBackendOptions::shared_reactor) the owner actor runs on any
// worker. With a backend per worker, Start() makes the socket's worker the actor's home: the
// scheduler runs it there (so its writes go straight to the socket) unless the worker is
// overloaded (ActorSystemOptions::home_max_wait) or stalled (take_over_after: another worker
// then drives the backend and runs the actor).
// Destroying the handle (e.g. the actor stopping) aborts the connection. A handle must not
// outlive its ActorSystem (keep it in the actor that owns it, as above).
#ifndef ACTORS_TCP_TCP_STREAM_H_
#define ACTORS_TCP_TCP_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "actors/tcp/tcp_messages.h"
#include "framework/actor/actor_ref.h"
#include "framework/actor/record_hooks.h"
#include "io/framing/framer.h"

namespace troupe {

struct TcpStreamOptions {
  FramingOptions framing;             // raw by default
  size_t high_water_bytes = 1 << 20;  // queued beyond this: backpressure
  size_t max_queued_bytes = 8 << 20;  // queued beyond this: the connection is closed
  // Received bytes the owner has not handled yet; beyond this, reading from the peer pauses
  // until the owner catches up (to half), so a slow actor never grows its mailbox unbounded.
  size_t max_unprocessed_bytes = 1 << 20;
  // Slowloris limits: the connection is closed with DEADLINE_EXCEEDED if no complete frame
  // arrives within `first_frame_timeout` of Start, or nothing at all for `idle_timeout` (time
  // spent with reading paused by our own flow control does not count). Infinite: off.
  // Accepted connections get finite defaults from TcpListenerOptions.
  absl::Duration first_frame_timeout = absl::InfiniteDuration();
  absl::Duration idle_timeout = absl::InfiniteDuration();
};

namespace internal {

// Where a stream's events go: the owner actor (see ActorStreamEvents below).
class StreamEvents {
 public:
  virtual ~StreamEvents() = default;
  virtual void Received(uint64_t id, std::string_view bytes, ReceiveCredit credit) = 0;
  virtual void FrameError(uint64_t id, absl::Status status) = 0;
  virtual void Writable(uint64_t id) = 0;
  virtual void Closed(uint64_t id, absl::Status status) = 0;
  // The stream started on scheduler worker `worker` (its socket's): the owner should run there.
  virtual void SetHomeWorker(int worker) = 0;
};

template <typename P>
class ActorStreamEvents final : public StreamEvents {
 public:
  static_assert(P::template kAccepts<TcpReceived> && P::template kAccepts<TcpClosed>,
                "a TCP stream's owner must accept TcpReceived and TcpClosed");
  explicit ActorStreamEvents(ActorRef<P> owner) : owner_(std::move(owner)) {}
  void Received(uint64_t id, std::string_view bytes, ReceiveCredit credit) override {
    internal::ScopedExternalSend input;  // from outside the actors, in a recorded run too
    owner_.Tell(TcpReceived{id, std::string(bytes), std::move(credit)});
  }
  void FrameError(uint64_t id, absl::Status status) override {
    internal::ScopedExternalSend input;
    if constexpr (P::template kAccepts<TcpFrameError>) owner_.Tell(TcpFrameError{id, status});
  }
  void Writable(uint64_t id) override {
    internal::ScopedExternalSend input;
    if constexpr (P::template kAccepts<TcpWritable>) owner_.Tell(TcpWritable{id});
  }
  void Closed(uint64_t id, absl::Status status) override {
    internal::ScopedExternalSend input;
    owner_.Tell(TcpClosed{id, std::move(status)});
  }
  void SetHomeWorker(int worker) override {
    if (internal::ActorCell* cell = owner_.cell()) cell->SetHomeWorker(worker);
  }

 private:
  ActorRef<P> owner_;
};

class StreamCore;

}  // namespace internal

class TcpStream {
 public:
  TcpStream() = default;
  explicit TcpStream(std::shared_ptr<internal::StreamCore> core) : core_(std::move(core)) {}
  TcpStream(TcpStream&&) noexcept = default;
  TcpStream& operator=(TcpStream&& other) noexcept;
  ~TcpStream();

  // Starts receiving: from now on the stream's events are messages to `owner`. Call once.
  template <typename P>
  void Start(const ActorRef<P>& owner) {
    StartWith(std::make_unique<internal::ActorStreamEvents<P>>(owner));
  }

  // Queues bytes for the peer. FAILED_PRECONDITION: the stream is closed or closing;
  // RESOURCE_EXHAUSTED: the queue would exceed max_queued_bytes, so the connection is being
  // closed (the owner then gets TcpClosed with that status).
  absl::Status Write(std::string bytes);
  // Encodes `payload` with the stream's framing, then Write(). INVALID_ARGUMENT: over the limit.
  absl::Status WriteFrame(std::string_view payload);

  void Close();  // sends what is queued, then closes; the owner gets TcpClosed(OK)
  void Abort();  // closes now, dropping queued bytes; the owner gets TcpClosed(CANCELLED)

  bool is_open() const;
  bool backpressured() const;
  size_t queued_bytes() const;
  uint64_t id() const;

 private:
  void StartWith(std::unique_ptr<internal::StreamEvents> events);
  std::shared_ptr<internal::StreamCore> core_;
};

}  // namespace troupe

#endif  // ACTORS_TCP_TCP_STREAM_H_
