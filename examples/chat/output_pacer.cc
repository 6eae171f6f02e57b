#include "examples/chat/output_pacer.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace troupe::chat {

void OutputPacer::StartWaiting(absl::Time now) {
  last_taken_ = transport_->Taken();
  last_progress_ = now;
}

absl::Status OutputPacer::Add(Line line, absl::Time now) {
  if (!waiting()) StartWaiting(now);
  if (held_.empty() && transport_->HasRoom()) {
    transport_->Send(*line);
    return absl::OkStatus();
  }
  if (released_) line = MakeLine(*line);  // not pacing: do not hold the sender's credit
  held_bytes_ += line->size();
  held_.push_back(std::move(line));
  const size_t backlog = held_bytes_ + transport_->QueuedBytes();
  if (backlog > limits_.hard_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "output backlog ", backlog, " bytes, over the hard limit of ", limits_.hard_bytes));
  }
  return absl::OkStatus();
}

void OutputPacer::Drain() {
  while (!held_.empty() && transport_->HasRoom()) {
    transport_->Send(*held_.front());
    held_bytes_ -= held_.front()->size();
    held_.pop_front();  // the last member to pass a room line on returns its sender's credit
  }
}

absl::Status OutputPacer::Check(absl::Time now) {
  Drain();
  const uint64_t taken = transport_->Taken();
  if (taken != last_taken_ || !waiting()) {
    last_taken_ = taken;
    last_progress_ = now;
    released_ = false;  // reading again: it paces the senders again (from its next held line)
    return absl::OkStatus();
  }
  const absl::Duration stalled = now - last_progress_;
  if (stalled >= limits_.stall_timeout) {
    return absl::DeadlineExceededError(
        absl::StrCat("took no output for ", absl::FormatDuration(stalled), " with ",
                     held_bytes_ + transport_->QueuedBytes(), " bytes waiting"));
  }
  if (!released_ && stalled >= limits_.pace_timeout) {
    released_ = true;
    for (Line& line : held_) line = MakeLine(*line);  // lets go of the senders' credit
  }
  return absl::OkStatus();
}

}  // namespace troupe::chat
