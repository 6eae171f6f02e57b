#include "actors/remote/inbound_session.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace troupe::internal {

void Exports::Set(std::string name, std::shared_ptr<const ExportTable> table) {
  MutexLock lock(&mu_);
  tables_[std::move(name)] = std::move(table);
}

bool Exports::Remove(const std::string& name) {
  MutexLock lock(&mu_);
  return tables_.erase(name) > 0;
}

std::shared_ptr<const ExportTable> Exports::Find(const std::string& name) const {
  MutexLock lock(&mu_);
  auto it = tables_.find(name);
  return it == tables_.end() ? nullptr : it->second;
}

InboundSession::InboundSession(NodeStream stream, std::shared_ptr<const Exports> exports,
                               std::shared_ptr<InboundCounters> counters,
                               absl::Duration default_ask_timeout)
    : stream_(std::move(stream)),
      exports_(std::move(exports)),
      counters_(std::move(counters)),
      default_ask_timeout_(default_ask_timeout) {}

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
    (void)stream_.Write(node::ServerFrame());  // the welcome: the sender's link is up
    return;
  }
  for (const node::Envelope& envelope : m.message.batch().envelopes()) Deliver(envelope);
  node::ServerFrame ack;
  ack.set_acked_up_to(check_.expected_sequence() - 1);
  (void)stream_.Write(std::move(ack));
}

void InboundSession::Deliver(const node::Envelope& envelope) {
  counters_->received.fetch_add(1, std::memory_order_relaxed);
  const bool is_ask = envelope.correlation() != 0;
  absl::Duration timeout = default_ask_timeout_;
  if (envelope.deadline_unix_micros() != 0) {
    timeout = absl::FromUnixMicros(envelope.deadline_unix_micros()) - absl::Now();
    if (timeout <= absl::ZeroDuration()) {
      counters_->expired.fetch_add(1, std::memory_order_relaxed);
      if (is_ask) Answer(envelope.correlation(), absl::DeadlineExceededError("expired in transit"));
      return;
    }
  }
  std::shared_ptr<const ExportTable> table = exports_->Find(envelope.target());
  if (table == nullptr) {
    counters_->unknown_target.fetch_add(1, std::memory_order_relaxed);
    if (is_ask) {
      Answer(envelope.correlation(),
             absl::NotFoundError(absl::StrCat("no actor exported as '", envelope.target(), "'")));
    }
    return;
  }
  auto entry = table->find(envelope.message_type());
  if (entry == table->end() || entry->second.is_request != is_ask) {
    counters_->unknown_type.fetch_add(1, std::memory_order_relaxed);
    if (is_ask) {
      Answer(envelope.correlation(),
             absl::InvalidArgumentError(absl::StrCat("'", envelope.target(), "' takes no ask of ",
                                                     envelope.message_type())));
    }
    return;
  }
  WireReplyFn reply;
  if (is_ask) {
    reply = [me = self(), correlation = envelope.correlation()](absl::StatusOr<WireMessage> a) {
      me.Tell(AskAnswered{correlation, std::move(a)});
    };
  }
  absl::Status status = entry->second.deliver(envelope.payload(), timeout, std::move(reply));
  if (!status.ok()) {
    counters_->malformed.fetch_add(1, std::memory_order_relaxed);
    if (is_ask) Answer(envelope.correlation(), status);
    return;
  }
  counters_->delivered.fetch_add(1, std::memory_order_relaxed);
}

void InboundSession::Answer(uint64_t correlation, const absl::Status& error) {
  Handle(AskAnswered{correlation, error});
}

void InboundSession::Handle(AskAnswered m) {
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
  std::fprintf(stderr, "troupe: node stream from '%s' ended: %s\n", check_.peer().c_str(),
               why.ToString().c_str());
  stream_.Finish(why);
  ctx().Stop();
}

void InboundSession::Handle(GrpcReadsDone) {
  stream_.Finish();
  ctx().Stop();
}

void InboundSession::Handle(GrpcCallCancelled) { ctx().Stop(); }

}  // namespace troupe::internal
