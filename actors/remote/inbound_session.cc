#include "actors/remote/inbound_session.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "framework/trace/trace_context.h"
#include "framework/log/log.h"

namespace troupe::internal {

void Exports::Set(std::string name, std::shared_ptr<const Export> entry) {
  MutexLock lock(&mu_);
  exports_[std::move(name)] = std::move(entry);
}

bool Exports::Remove(const std::string& name) {
  MutexLock lock(&mu_);
  return exports_.erase(name) > 0;
}

absl::StatusOr<std::shared_ptr<const Export>> Exports::Find(const std::string& name,
                                                            const RemoteSender& sender) const {
  std::shared_ptr<const ExportResolver> resolver;
  {
    MutexLock lock(&mu_);
    auto it = exports_.find(name);
    if (it != exports_.end()) return it->second;
    resolver = resolver_;
  }
  if (resolver) return (*resolver)(name, sender);  // outside the lock: it may spawn actors
  return absl::NotFoundError(absl::StrCat("no actor exported as '", name, "'"));
}

void Exports::SetResolver(ExportResolver resolver) {
  MutexLock lock(&mu_);
  resolver_ = std::make_shared<const ExportResolver>(std::move(resolver));
}

InboundSession::InboundSession(NodeStream stream, std::shared_ptr<const Exports> exports,
                               std::shared_ptr<InboundCounters> counters, InboundOptions options)
    : stream_(std::move(stream)),
      exports_(std::move(exports)),
      counters_(std::move(counters)),
      options_(options) {}

void InboundSession::OnStart() {
  if (!stream_.Start(self()).ok()) ctx().Stop();
}

void InboundSession::Handle(GrpcReceived<node::ClientFrame> m) {
  const bool was_hello = !check_.hello_seen();
  if (absl::Status ok = check_.Accept(m.message); !ok.ok()) {
    EndBadStream(std::move(ok));
    return;
  }
  if (was_hello) {
    sender_ = RemoteSender{check_.peer(), stream_.peer()};
    // With TLS the name a node claims must be one its certificate carries.
    if (options_.tls && !sender_.peer.Is(sender_.node)) {
      counters_->identity_mismatches.fetch_add(1, std::memory_order_relaxed);
      EndBadStream(absl::PermissionDeniedError(
          absl::StrCat("the Hello claims node '", sender_.node, "' but the certificate is ",
                       sender_.peer.verified ? sender_.peer.name : "missing")));
      return;
    }
    (void)stream_.Write(node::ServerFrame());  // the welcome: the sender's link is up
    return;
  }
  waiting_.push_back(std::move(m));
  if (waiting_.size() == 1) DeliverWaiting();
}

bool InboundSession::DeliverWaiting() {
  while (!waiting_.empty()) {
    const auto& envelopes = waiting_.front().message.batch().envelopes();
    for (; next_envelope_ < envelopes.size(); ++next_envelope_) {
      if (!Deliver(envelopes[next_envelope_])) {
        // A full mailbox: no ack, no further batch until there is room (retried with back-off).
        counters_->paused.fetch_add(1, std::memory_order_relaxed);
        if (!retry_armed_) {
          retry_armed_ = true;
          ctx().SendAfter(retry_delay_, self(), RetryDelivery{});
          retry_delay_ = std::min(retry_delay_ * 2, absl::Milliseconds(50));
        }
        return false;
      }
    }
    retry_delay_ = absl::Milliseconds(1);
    node::ServerFrame ack;
    ack.set_acked_up_to(envelopes.empty() ? 0 : envelopes[envelopes.size() - 1].sequence());
    (void)stream_.Write(std::move(ack));
    waiting_.pop_front();  // its credit returns: the stream may read the next frame
    next_envelope_ = 0;
  }
  return true;
}

void InboundSession::Handle(RetryDelivery) {
  retry_armed_ = false;
  DeliverWaiting();
}

bool InboundSession::Deliver(const node::Envelope& envelope) {
  const bool is_ask = envelope.correlation() != 0;
  RemoteSender sender = sender_;
  sender.incarnation = envelope.sender_incarnation();
  absl::StatusOr<std::shared_ptr<const Export>> found = exports_->Find(envelope.target(), sender);
  std::shared_ptr<const Export> target = found.ok() ? *found : nullptr;
  const WireEntry* entry = nullptr;
  if (target != nullptr) {
    auto it = target->table.find(envelope.message_type());
    if (it != target->table.end() && it->second.is_request == is_ask) entry = &it->second;
    // Full: wait (before counting it received) rather than grow the mailbox or drop.
    if (entry != nullptr && !entry->has_room()) return false;
  }
  counters_->received.fetch_add(1, std::memory_order_relaxed);
  absl::Duration timeout = options_.default_ask_timeout;
  if (envelope.deadline_unix_micros() != 0) {
    timeout = absl::FromUnixMicros(envelope.deadline_unix_micros()) - absl::Now();
    if (timeout <= absl::ZeroDuration()) {
      counters_->expired.fetch_add(1, std::memory_order_relaxed);
      if (is_ask) Answer(envelope.correlation(), absl::DeadlineExceededError("expired in transit"));
      return true;
    }
  }
  if (timeout > options_.max_ask_timeout) {
    timeout = options_.max_ask_timeout;
    if (is_ask) counters_->deadlines_clamped.fetch_add(1, std::memory_order_relaxed);
  }
  if (target == nullptr) {
    counters_->unknown_target.fetch_add(1, std::memory_order_relaxed);
    if (is_ask) Answer(envelope.correlation(), found.status());
    return true;
  }
  if (options_.tls &&
      !target->access.Allows(sender_.peer,
                             absl::StrCat(envelope.target(), " ", envelope.message_type()))) {
    counters_->permission_denied.fetch_add(1, std::memory_order_relaxed);
    if (is_ask) {
      Answer(envelope.correlation(),
             absl::PermissionDeniedError(absl::StrCat("node '", sender_.node, "' may not reach '",
                                                      envelope.target(), "'")));
    }
    return true;
  }
  if (entry == nullptr) {
    counters_->unknown_type.fetch_add(1, std::memory_order_relaxed);
    if (is_ask) {
      Answer(envelope.correlation(),
             absl::InvalidArgumentError(absl::StrCat("'", envelope.target(), "' takes no ask of ",
                                                     envelope.message_type())));
    }
    return true;
  }
  WireReplyFn reply;
  if (is_ask) {
    if (asks_in_flight_ >= options_.max_asks_in_flight) {
      counters_->asks_refused.fetch_add(1, std::memory_order_relaxed);
      Answer(envelope.correlation(),
             absl::ResourceExhaustedError(absl::StrCat(
                 options_.max_asks_in_flight, " asks from this node are waiting already")));
      return true;
    }
    ++asks_in_flight_;
    reply = [me = self(), correlation = envelope.correlation()](absl::StatusOr<WireMessage> a) {
      me.Tell(AskAnswered{correlation, std::move(a)});
    };
  }
  // The sender's trace (a malformed one is ignored) goes on with the message.
  std::optional<TraceContext> trace;
  if (!envelope.trace_context().empty()) trace = TraceContext::Parse(envelope.trace_context());
  ScopedTrace traced(trace.has_value() ? &*trace : nullptr);
  absl::Status status = entry->deliver(envelope.payload(), sender, timeout, std::move(reply));
  if (!status.ok()) {
    counters_->malformed.fetch_add(1, std::memory_order_relaxed);
    if (is_ask) {
      --asks_in_flight_;  // the reply function was dropped unrun
      Answer(envelope.correlation(), status);
    }
    return true;
  }
  counters_->delivered.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void InboundSession::Answer(uint64_t correlation, const absl::Status& error) {
  Handle(AskAnswered{correlation, error, /*counted=*/false});
}

void InboundSession::Handle(AskAnswered m) {
  if (m.counted && asks_in_flight_ > 0) --asks_in_flight_;
  node::ServerFrame frame;
  node::Reply* reply = frame.add_replies();
  reply->set_correlation(m.correlation);
  if (m.answer.ok()) {
    reply->set_message_type(std::move(m.answer->type));
    reply->set_payload(std::move(m.answer->bytes));
  } else {
    reply->set_code(static_cast<int>(m.answer.status().code()));
    reply->set_error(std::string(m.answer.status().message()));
  }
  (void)stream_.Write(std::move(frame));
}

void InboundSession::EndBadStream(absl::Status why) {
  counters_->bad_streams.fetch_add(1, std::memory_order_relaxed);
  static LogLimit limit(5);  // a peer's doing
  LogLimited(limit, absl::LogSeverity::kWarning, "node stream ended",
             {{"node", check_.peer()}, {"peer", stream_.peer().ToString()}, {"why", why.ToString()}});
  stream_.Finish(why);
  ctx().Stop();
}

void InboundSession::Handle(GrpcReadsDone) {
  stream_.Finish();
  ctx().Stop();
}

void InboundSession::Handle(GrpcCallCancelled) { ctx().Stop(); }

}  // namespace troupe::internal
