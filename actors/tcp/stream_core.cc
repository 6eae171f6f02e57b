#include "actors/tcp/stream_core.h"

#include <limits.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace troupe::internal {
namespace {
std::atomic<uint64_t> next_stream_id{1};
constexpr size_t kMaxIovPerSend = 256;
}  // namespace

std::shared_ptr<StreamCore> StreamCore::Create(IoBackend& backend, Scheduler& scheduler, int fd,
                                               TcpStreamOptions options,
                                               std::shared_ptr<ConnectionCounters> counters) {
  std::shared_ptr<StreamCore> core(
      new StreamCore(backend, scheduler, fd, options, std::move(counters)));
  core->self_ = core;
  return core;
}

StreamCore::StreamCore(IoBackend& backend, Scheduler& scheduler, int fd, TcpStreamOptions options,
                       std::shared_ptr<ConnectionCounters> counters)
    : backend_(backend),
      scheduler_(scheduler),
      fd_(fd),
      id_(next_stream_id.fetch_add(1, std::memory_order_relaxed)),
      options_(options),
      framer_(MakeFramer(options.framing)),
      counters_(std::move(counters)) {}

StreamCore::~StreamCore() = default;

bool StreamCore::ReserveQueue(size_t n) {
  const size_t now = queued_bytes_.fetch_add(n, std::memory_order_acq_rel) + n;
  if (now <= options_.max_queued_bytes) return true;
  queued_bytes_.fetch_sub(n, std::memory_order_acq_rel);
  return false;
}

void StreamCore::StartOnOwner(std::unique_ptr<StreamEvents> events) {
  if (close_started_) return;
  events_ = std::move(events);
  // Homed on the backend's worker (which is not the running one when another worker took the
  // backend over, or writes through it directly); nowhere on a reactor every worker shares.
  const int home =
      backend_.home_worker() != -1 ? backend_.home_worker() : scheduler_.CurrentWorker();
  if (home >= 0) events_->SetHomeWorker(home);
  receiving_ = true;
  started_ = true;
  started_at_ = last_received_ = scheduler_.Now();
  ArmDeadline();
  UpdateReading();
  UpdateWritingNow();
}

void StreamCore::UpdateWritingNow() {
  if (!backend_.sends_now() || !backend_.shareable()) return;
  const bool want = started_ && !sending_ && out_.empty() && !connecting_ && !close_started_ &&
                    !close_after_flush_;
  MutexLock lock(&write_now_mu_);  // waits for a TryWriteNow in its syscall
  write_now_ = want;
}

bool StreamCore::TryWriteNow(std::string& bytes) {
  // Only where other threads drive the backend too (shareable: a reactor shared by the workers,
  // or one per worker with take-overs), whose hold a writer would wait for or post behind. A
  // backend its worker's alone (one worker) batches a turn's writes instead: the first goes out
  // at once, the rest wait for its completion at the next poll and leave in one writev.
  if (!backend_.sends_now() || !backend_.shareable() ||
      pending_posts_.load(std::memory_order_acquire) != 0) {
    return false;
  }
  MutexLock lock(&write_now_mu_);
  if (!write_now_) return false;
  const int64_t n = backend_.SendNow(fd_, bytes.data(), bytes.size());
  if (n > 0) {
    if (counters_) counters_->bytes_sent.Add(static_cast<uint64_t>(n));
    queued_bytes_.fetch_sub(static_cast<size_t>(n), std::memory_order_acq_rel);
    if (static_cast<size_t>(n) == bytes.size()) return true;
    bytes.erase(0, static_cast<size_t>(n));
  }
  // The rest (or an error, which the backend's Send reports) goes through WriteOnOwner; writes
  // made meanwhile must queue behind it.
  write_now_ = false;
  return false;
}

void StreamCore::ArmDeadline() {
  absl::Time deadline = absl::InfiniteFuture();
  if (!got_frame_ && options_.first_frame_timeout != absl::InfiniteDuration()) {
    deadline = started_at_ + options_.first_frame_timeout;
  }
  if (options_.idle_timeout != absl::InfiniteDuration()) {
    deadline = std::min(deadline, last_received_ + options_.idle_timeout);
  }
  if (deadline == absl::InfiniteFuture() || close_started_) return;
  // One timer at a time, re-armed when it fires: receiving costs no timer work.
  deadline_timer_ = scheduler_.AddTimer(
      deadline, absl::ZeroDuration(), [weak = std::weak_ptr<StreamCore>(shared_from_this())] {
        if (auto core = weak.lock()) core->Run([core] { core->CheckDeadlines(); });
      });
}

void StreamCore::CheckDeadlines() {
  if (close_started_ || !receiving_) return;
  const absl::Time now = scheduler_.Now();
  if (!reading_) last_received_ = now;  // paused by our flow control: not the peer's fault
  if (!got_frame_ && options_.first_frame_timeout != absl::InfiniteDuration() &&
      now >= started_at_ + options_.first_frame_timeout) {
    CloseOnOwner(absl::DeadlineExceededError(
                     absl::StrCat("no complete message within ",
                                  absl::FormatDuration(options_.first_frame_timeout),
                                  " of connecting")),
                 false, true);
    return;
  }
  if (options_.idle_timeout != absl::InfiniteDuration() &&
      now >= last_received_ + options_.idle_timeout) {
    CloseOnOwner(absl::DeadlineExceededError(absl::StrCat(
                     "nothing received for ", absl::FormatDuration(options_.idle_timeout))),
                 false, true);
    return;
  }
  ArmDeadline();
}

void StreamCore::UpdateReading() {
  const bool want = receiving_ && !backpressured_.load(std::memory_order_relaxed) &&
                    !inbound_paused_ && !close_started_;
  if (want == reading_) return;
  reading_ = want;
  if (want) {
    backend_.Recv(fd_, this);
  } else {
    backend_.StopRecv(fd_);
  }
}

void StreamCore::ReturnCredit(size_t bytes) {
  const size_t left = unprocessed_bytes_.fetch_sub(bytes, std::memory_order_acq_rel) - bytes;
  if (left <= options_.max_unprocessed_bytes / 2 &&
      left + bytes > options_.max_unprocessed_bytes / 2) {
    // Crossed the resume mark: let the owner thread decide (it knows whether it paused).
    Run([self = shared_from_this()] {
      if (self->inbound_paused_ && self->unprocessed_bytes_.load(std::memory_order_acquire) <=
                                       self->options_.max_unprocessed_bytes / 2) {
        self->inbound_paused_ = false;
        self->UpdateReading();
      }
    });
  }
}

void StreamCore::ConnectOnOwner(const SocketAddress& to, std::unique_ptr<StreamEvents> events) {
  events_ = std::move(events);
  connect_to_ = to;
  connecting_ = true;
  backend_.Connect(fd_, connect_to_.get(), connect_to_.length, this);
}

void StreamCore::WriteOnOwner(std::string bytes) {
  if (close_started_ || close_after_flush_) {  // the handle saw it open; it closed meanwhile
    queued_bytes_.fetch_sub(bytes.size(), std::memory_order_acq_rel);
    return;
  }
  out_.push_back(std::move(bytes));
  if (!backpressured_.load(std::memory_order_relaxed) &&
      queued_bytes() > options_.high_water_bytes) {
    backpressured_.store(true, std::memory_order_release);
    UpdateReading();
  }
  // Else TryWriteNow is stopped already: by Flush (sending), or not started yet (connecting).
  if (!sending_ && !connecting_) Flush();
}

void StreamCore::Flush() {  // out_ is not empty and holds no empty chunk
  iov_.clear();
  in_flight_bytes_ = 0;
  for (auto it = out_.begin(); it != out_.end() && iov_.size() < kMaxIovPerSend; ++it) {
    iov_.push_back(iovec{it->data(), it->size()});
    in_flight_bytes_ += it->size();
  }
  sending_ = true;
  UpdateWritingNow();  // before the backend may write the socket
  backend_.Send(fd_, iov_.data(), static_cast<int>(iov_.size()), this);
}

void StreamCore::OnSent(int32_t result) {
  sending_ = false;
  if (result < 0) {
    CloseOnOwner(ErrnoToStatus(-result, "send"), /*flush_first=*/false, /*notify=*/true);
    return;
  }
  if (counters_) counters_->bytes_sent.Add(static_cast<uint64_t>(result));
  for (size_t i = 0; i < iov_.size(); ++i) out_.pop_front();  // cheaper than a range erase
  queued_bytes_.fetch_sub(in_flight_bytes_, std::memory_order_acq_rel);
  if (backpressured_.load(std::memory_order_relaxed) &&
      queued_bytes() <= options_.high_water_bytes / 2) {
    backpressured_.store(false, std::memory_order_release);
    UpdateReading();
    if (events_) events_->Writable(id_);
  }
  if (!out_.empty()) {
    Flush();
  } else if (close_after_flush_) {
    CloseNow();
  } else {
    UpdateWritingNow();
  }
}

void StreamCore::OnFrame(std::string_view frame) {
  got_frame_ = true;
  const size_t now =
      unprocessed_bytes_.fetch_add(frame.size(), std::memory_order_acq_rel) + frame.size();
  events_->Received(id_, frame, ReceiveCredit(shared_from_this(), frame.size()));
  if (!inbound_paused_ && now > options_.max_unprocessed_bytes) {
    inbound_paused_ = true;
    UpdateReading();
  }
}

void StreamCore::OnFrameError(absl::Status error) { events_->FrameError(id_, std::move(error)); }

void StreamCore::CloseOnOwner(absl::Status reason, bool flush_first, bool notify) {
  if (close_started_) return;
  if (close_reason_.ok()) close_reason_ = std::move(reason);
  notify_close_ = notify_close_ && notify;
  closed_.store(true, std::memory_order_release);
  if (flush_first && (sending_ || !out_.empty())) {
    close_after_flush_ = true;  // TryWriteNow is stopped already (sending, or connecting)
    return;
  }
  CloseNow();
}

void StreamCore::CloseNow() {
  if (close_started_) return;
  close_started_ = true;
  deadline_timer_.Cancel();
  closed_.store(true, std::memory_order_release);
  UpdateWritingNow();  // no TryWriteNow is in its syscall once this returns
  backend_.Close(fd_, this);
}

void StreamCore::OnCompletion(int /*fd*/, const Completion& c) {
  switch (c.op) {
    case IoOp::kRecv:
      if (c.result > 0) {
        if (counters_) counters_->bytes_received.Add(static_cast<uint64_t>(c.result));
        if (options_.idle_timeout != absl::InfiniteDuration()) last_received_ = scheduler_.Now();
        if (!close_started_) framer_->Feed(std::string_view(c.data, c.result), *this);
      } else if (c.result == 0) {  // the peer closed: send what is queued, then close
        receiving_ = false;
        reading_ = false;
        CloseOnOwner(absl::OkStatus(), /*flush_first=*/true, /*notify=*/true);
      } else {
        receiving_ = false;
        reading_ = false;
        CloseOnOwner(ErrnoToStatus(-c.result, "recv"), false, true);
      }
      break;
    case IoOp::kSend:
      OnSent(c.result);
      break;
    case IoOp::kConnect:
      connecting_ = false;
      if (c.result < 0) {
        CloseOnOwner(ErrnoToStatus(-c.result, absl::StrCat("connect ", connect_to_.ToString())),
                     false, true);
        break;
      }
      backend_.SetNoDelay(fd_);
      StartOnOwner(std::move(events_));
      if (!out_.empty() && !sending_) Flush();
      break;
    case IoOp::kAccept:
      break;
    case IoOp::kClose: {
      queued_bytes_.store(0, std::memory_order_release);
      if (counters_) counters_->open.fetch_sub(1, std::memory_order_acq_rel);
      if (events_ && notify_close_) events_->Closed(id_, close_reason_);
      events_.reset();
      std::shared_ptr<StreamCore> last = std::move(self_);  // may destroy *this on return
      break;
    }
  }
}

}  // namespace troupe::internal
