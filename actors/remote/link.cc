#include "actors/remote/link.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "actors/grpc/grpc_status.h"
#include "actors/tls/credentials.h"
#include "framework/base/notification.h"
#include "framework/log/log.h"

namespace troupe::internal {

// One Connect stream. A read is always outstanding; one write at a time, its frames taken from
// the Link. A hold keeps the stream alive while writes may still start from outside gRPC's
// reactions; it is released once the stream has ended and no write is in progress.
class Link::Call final : public grpc::ClientBidiReactor<node::ClientFrame, node::ServerFrame> {
 public:
  Call(std::shared_ptr<Link> link, std::shared_ptr<grpc::ClientContext> context)
      : link_(std::move(link)), context_(std::move(context)) {}

  void Begin(const node::ClientFrame& hello) {
    context_->set_wait_for_ready(false);  // a peer that is down fails fast (UNAVAILABLE)
    link_->stub_->async()->Connect(context_.get(), this);
    AddHold();
    out_ = hello;
    StartWrite(&out_);  // the Link set writing_ for the Hello
    StartRead(&in_);
    StartCall();
  }
  void WriteNext() {
    bool release = false;
    if (!link_->NextFrame(this, &out_, &release)) {
      if (release) RemoveHold();
      return;
    }
    StartWrite(&out_);
  }
  std::shared_ptr<Notification> done() const { return done_; }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      // The stream is broken: stop writing; OnReadDone(false) and OnDone follow.
      if (link_->StreamEnded(this, /*writer_stopped=*/true)) RemoveHold();
      return;
    }
    WriteNext();
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      if (link_->StreamEnded(this, /*writer_stopped=*/false)) RemoveHold();
      return;
    }
    if (!welcomed_) {
      welcomed_ = true;
      link_->OnWelcome();
    } else {
      link_->OnServerFrame(in_);
    }
    StartRead(&in_);
  }
  void OnDone(const grpc::Status& status) override {
    std::shared_ptr<Link> link = std::move(link_);
    std::shared_ptr<Notification> done = done_;
    link->OnCallDone(this, status);
    delete this;
    // Drop our reference before Shutdown() can return: the last reference to a Link must never
    // go on a gRPC callback thread, because destroying the last channel there shuts down the
    // thread pool that runs it (gRPC 1.51 then aborts; grpc/grpc#32584).
    link.reset();
    done->Notify();
  }

 private:
  std::shared_ptr<Link> link_;
  std::shared_ptr<grpc::ClientContext> context_;  // shared with the Link, which may cancel it
  node::ClientFrame out_;
  node::ServerFrame in_;
  bool welcomed_ = false;
  std::shared_ptr<Notification> done_ = std::make_shared<Notification>();
};

std::shared_ptr<Link> Link::Create(ActorSystem& system, LinkOptions options) {
  std::shared_ptr<Link> link(new Link(system, std::move(options)));
  link->Connect();
  return link;
}

Link::Link(ActorSystem& system, LinkOptions options)
    : system_(system), options_(std::move(options)), backoff_(options_.backoff_initial) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options_.max_message_bytes);
  args.SetMaxSendMessageSize(options_.max_message_bytes);
  // Reconnection is ours (with our back-off): keep gRPC's own short so a restarted peer is
  // found again quickly.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // A peer that vanished without closing (a dead host, a dropped route) is found by pings, also
  // while nothing is sent (gRPC otherwise stops pinging after two pings without data).
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.keepalive_time)));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.keepalive_timeout)));
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  channel_ = grpc::CreateCustomChannel(
      options_.address,
      options_.tls ? BuildChannelCredentials(*options_.tls) : grpc::InsecureChannelCredentials(),
      args);
  stub_ = node::Node::NewStub(channel_);
}

Link::~Link() = default;

void Link::Connect() {
  node::ClientFrame hello;
  hello.mutable_hello()->set_protocol_version(1);
  hello.mutable_hello()->set_node(options_.local_node);
  hello.mutable_hello()->set_incarnation(options_.incarnation);
  Call* call;
  {
    MutexLock lock(&mu_);
    if (state_ == State::kShutdown) return;
    state_ = State::kConnecting;
    call_context_ = std::make_shared<grpc::ClientContext>();
    call = new Call(shared_from_this(), call_context_);
    call_ = call;
    std::erase_if(calls_done_, [](const auto& done) { return done->HasBeenNotified(); });
    calls_done_.push_back(call->done());
    writing_ = true;  // the Hello
    closing_ = false;
    hold_released_ = false;
    next_sequence_ = 1;
  }
  call->Begin(hello);
}

absl::Status Link::Send(node::Envelope envelope, std::string_view type, WireReplyFn reply) {
  Call* kick = nullptr;
  absl::Status result;
  {
    MutexLock lock(&mu_);
    ++stats_.sent;
    if (state_ == State::kBackoff || state_ == State::kShutdown) {
      DeadLetterLocked(type, DeadLetterReason::kNodeUnreachable);
      result = UnreachableLocked();
    } else if (unacked_.size() >= options_.max_unacked) {
      DeadLetterLocked(type, DeadLetterReason::kLinkFull);
      result = absl::ResourceExhaustedError(
          absl::StrCat(unacked_.size(), " messages to ", options_.address, " await their ack"));
    } else if (envelope.ByteSizeLong() + 64 > static_cast<size_t>(options_.max_message_bytes)) {
      DeadLetterLocked(type, DeadLetterReason::kTooLarge);
      result = absl::InvalidArgumentError(absl::StrCat(
          "a ", absl::string_view(type.data(), type.size()), " of ", envelope.ByteSizeLong(),
          " bytes exceeds the link's limit of ", options_.max_message_bytes));
    }
    if (result.ok()) {
      envelope.set_sequence(next_sequence_++);
      if (options_.cluster_incarnation) {
        envelope.set_sender_incarnation(options_.cluster_incarnation->load(std::memory_order_relaxed));
      }
      if (reply) {
        const uint64_t correlation = next_correlation_++;
        envelope.set_correlation(correlation);
        pending_asks_.emplace(correlation, std::move(reply));
      }
      unacked_.push_back({envelope.sequence(), type});
      outbox_.push_back(std::move(envelope));
      if (!writing_ && !closing_ && call_ != nullptr) {
        writing_ = true;
        kick = call_;
      }
    }
  }
  if (!result.ok() && reply) reply(result);
  if (kick != nullptr) kick->WriteNext();
  return result;
}

bool Link::NextFrame(Call* call, node::ClientFrame* frame, bool* release_hold) {
  MutexLock lock(&mu_);
  *release_hold = false;
  if (call != call_ || closing_ || outbox_.empty()) {
    writing_ = false;
    if (closing_ && !hold_released_) *release_hold = hold_released_ = true;
    return false;
  }
  // One frame carries as many queued envelopes as fit in half the message limit.
  frame->Clear();
  node::Batch* batch = frame->mutable_batch();
  size_t bytes = 0;
  const size_t budget = static_cast<size_t>(options_.max_message_bytes) / 2;
  while (!outbox_.empty()) {
    const size_t size = outbox_.front().ByteSizeLong() + 8;
    if (batch->envelopes_size() > 0 && bytes + size > budget) break;
    bytes += size;
    *batch->add_envelopes() = std::move(outbox_.front());
    outbox_.pop_front();
  }
  ++stats_.frames;
  stats_.frame_bytes += bytes;
  return true;
}

bool Link::StreamEnded(Call* call, bool writer_stopped) {
  MutexLock lock(&mu_);
  if (call != call_) return false;
  closing_ = true;
  if (writer_stopped) writing_ = false;
  if (writing_ || hold_released_) return false;
  hold_released_ = true;
  return true;
}

void Link::OnWelcome() {
  MutexLock lock(&mu_);
  if (state_ != State::kConnecting) return;
  state_ = State::kUp;
  stats_.up = true;
  ++stats_.connects;
  backoff_ = options_.backoff_initial;
  down_reported_ = false;
}

void Link::OnServerFrame(const node::ServerFrame& frame) {
  std::vector<std::pair<WireReplyFn, absl::StatusOr<WireMessage>>> answers;
  {
    MutexLock lock(&mu_);
    while (!unacked_.empty() && unacked_.front().sequence <= frame.acked_up_to()) {
      unacked_.pop_front();
      ++stats_.acked;
    }
    for (const node::Reply& reply : frame.replies()) {
      auto it = pending_asks_.find(reply.correlation());
      if (it == pending_asks_.end()) continue;  // a peer bug or a replay: ignore it
      absl::StatusOr<WireMessage> answer =
          reply.code() == 0
              ? absl::StatusOr<WireMessage>(WireMessage{reply.message_type(), reply.payload()})
              : absl::Status(static_cast<absl::StatusCode>(reply.code()), reply.error());
      answers.emplace_back(std::move(it->second), std::move(answer));
      pending_asks_.erase(it);
    }
  }
  for (auto& [fn, answer] : answers) fn(std::move(answer));
}

void Link::OnCallDone(Call* call, const grpc::Status& status) {
  std::vector<WireReplyFn> failed_asks;
  std::vector<DownWatcher> watchers;
  absl::Status why = FromGrpcStatus(status);
  if (why.ok()) why = absl::UnavailableError("the peer ended the stream");
  why = absl::Status(why.code(), absl::StrCat("link to ", options_.address, ": ", why.message()));
  {
    MutexLock lock(&mu_);
    if (call != call_) return;
    call_ = nullptr;
    writing_ = false;
    for (const Unacked& u : unacked_) DeadLetterLocked(u.type, DeadLetterReason::kNodeUnreachable);
    unacked_.clear();
    outbox_.clear();
    for (auto& [id, fn] : pending_asks_) failed_asks.push_back(std::move(fn));
    pending_asks_.clear();
    ++stats_.failures;
    stats_.up = false;
    last_failure_ = why;
    if (!down_reported_) {
      down_reported_ = true;
      watchers = watchers_;
    }
    if (state_ != State::kShutdown) {
      state_ = State::kBackoff;
      const absl::Duration delay = backoff_;
      backoff_ = std::min(backoff_ * 2, options_.backoff_max);
      std::weak_ptr<Link> weak = weak_from_this();
      retry_timer_ = system_.scheduler().AddTimer(system_.scheduler().Now() + delay,
                                                  absl::ZeroDuration(), [weak] {
                                                    if (std::shared_ptr<Link> link = weak.lock())
                                                      link->Connect();
                                                  });
    }
  }
  for (WireReplyFn& fn : failed_asks) fn(why);
  for (DownWatcher& w : watchers) w(why);
}

// Why a send fails while the link is down: a peer that refused this node (its certificate or
// claimed name, PERMISSION_DENIED or UNAUTHENTICATED) says so, so a sender sees the same
// answer whether its message went out before the refusal or after it; otherwise UNAVAILABLE.
absl::Status Link::UnreachableLocked() const {
  const absl::StatusCode code = last_failure_.code();
  if (code == absl::StatusCode::kPermissionDenied || code == absl::StatusCode::kUnauthenticated) {
    return last_failure_;
  }
  return absl::UnavailableError(absl::StrCat(
      "node ", options_.address, " is unreachable",
      last_failure_.ok() ? "" : absl::StrCat(" (", last_failure_.message(), ")")));
}

void Link::DeadLetterLocked(std::string_view type, DeadLetterReason reason) {
  ++stats_.dead_letters;
  system_.dead_letters().Record({0, type, reason});
}

void Link::AddDownWatcher(DownWatcher watcher) {
  absl::Status down_now;
  {
    MutexLock lock(&mu_);
    watchers_.push_back(watcher);
    if (state_ == State::kBackoff) down_now = last_failure_;
  }
  if (!down_now.ok()) watcher(down_now);  // already down: a late watcher hears it at once
}

LinkStats Link::stats() const {
  MutexLock lock(&mu_);
  return stats_;
}

void Link::Shutdown() {
  std::shared_ptr<grpc::ClientContext> context;
  std::vector<std::shared_ptr<Notification>> calls_done;
  {
    MutexLock lock(&mu_);
    state_ = State::kShutdown;
    retry_timer_.Cancel();
    if (call_ != nullptr) context = call_context_;
    calls_done = calls_done_;  // also streams already over whose OnDone is still running
  }
  if (context) context->TryCancel();  // safe even if the call has just ended: we share it
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  for (const auto& done : calls_done) {
    if (!done->WaitForNotificationWithTimeout(give_up - absl::Now())) {
      Log(absl::LogSeverity::kWarning, "a link's stream did not end in 10 s after shutdown",
          {{"peer", options_.address}});
      break;
    }
  }
}

}  // namespace troupe::internal
