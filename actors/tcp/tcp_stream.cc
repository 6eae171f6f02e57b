#include "actors/tcp/tcp_stream.h"

#include "absl/strings/str_cat.h"
#include "actors/tcp/stream_core.h"

namespace troupe {

TcpStream& TcpStream::operator=(TcpStream&& other) noexcept {
  if (this != &other) {
    Abort();
    core_ = std::move(other.core_);
  }
  return *this;
}

TcpStream::~TcpStream() {
  if (core_ && !core_->closed()) {
    // The owner is going away: close without telling it.
    core_->Run([core = core_] {
      core->CloseOnOwner(absl::CancelledError("stream dropped"), false, false);
    });
  }
}

void TcpStream::StartWith(std::unique_ptr<internal::StreamEvents> events) {
  if (!core_) return;
  core_->Run([core = core_, events = std::move(events)]() mutable {
    core->StartOnOwner(std::move(events));
  });
}

absl::Status TcpStream::Write(std::string bytes) {
  if (!core_ || core_->closed()) {
    return absl::FailedPreconditionError("write on a closed TCP stream");
  }
  if (bytes.empty()) return absl::OkStatus();
  if (!core_->ReserveQueue(bytes.size())) {
    const size_t limit = core_->options().max_queued_bytes;
    absl::Status status = absl::ResourceExhaustedError(
        absl::StrCat("the peer is not reading: the outbound queue would exceed ", limit, " bytes"));
    core_->Run([core = core_, status] { core->CloseOnOwner(status, false, true); });
    return status;
  }
  core_->Run(
      [core = core_, bytes = std::move(bytes)]() mutable { core->WriteOnOwner(std::move(bytes)); });
  return absl::OkStatus();
}

absl::Status TcpStream::WriteFrame(std::string_view payload) {
  if (!core_) return absl::FailedPreconditionError("write on an empty TcpStream");
  std::string framed;
  if (absl::Status s = core_->framer().Encode(payload, framed); !s.ok()) return s;
  return Write(std::move(framed));
}

void TcpStream::Close() {
  if (!core_) return;
  core_->Run([core = core_] { core->CloseOnOwner(absl::OkStatus(), true, true); });
}

void TcpStream::Abort() {
  if (!core_) return;
  core_->Run([core = core_] { core->CloseOnOwner(absl::CancelledError("aborted"), false, true); });
}

bool TcpStream::is_open() const { return core_ && !core_->closed(); }
bool TcpStream::backpressured() const { return core_ && core_->backpressured(); }
size_t TcpStream::queued_bytes() const { return core_ ? core_->queued_bytes() : 0; }
uint64_t TcpStream::id() const { return core_ ? core_->id() : 0; }

}  // namespace troupe
