#include "actors/tcp/tcp_stream.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "actors/tcp/stream_core.h"
#include "framework/actor/record_codec.h"
#include "framework/actor/record_hooks.h"

namespace troupe {
namespace {

// What a stream tells its owner comes from outside the actors: a recorded run keeps it
// (framework/record), and its replay makes it again from these.
std::string EncodeStatus(uint64_t stream_id, const absl::Status& status) {
  return absl::StrCat(stream_id, " ", static_cast<int>(status.code()), " ", status.message());
}
absl::StatusOr<std::pair<uint64_t, absl::Status>> DecodeStatus(std::string_view bytes) {
  const size_t first = bytes.find(' ');
  const size_t second = first == std::string_view::npos ? first : bytes.find(' ', first + 1);
  uint64_t id = 0;
  int code = 0;
  if (second == std::string_view::npos ||
      !absl::SimpleAtoi(absl::string_view(bytes.data(), first), &id) ||
      !absl::SimpleAtoi(absl::string_view(bytes.data() + first + 1, second - first - 1), &code) ||
      code < 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::InvalidArgumentError("not a recorded stream status");
  }
  const std::string_view message = bytes.substr(second + 1);
  return std::make_pair(id, absl::Status(static_cast<absl::StatusCode>(code),
                                         absl::string_view(message.data(), message.size())));
}

std::string EncodeReceived(const TcpReceived& m) {
  return absl::StrCat(m.stream_id, " ", m.bytes);
}
absl::StatusOr<TcpReceived> DecodeReceived(std::string_view bytes) {
  const size_t space = bytes.find(' ');
  uint64_t id = 0;
  if (space == std::string_view::npos ||
      !absl::SimpleAtoi(absl::string_view(bytes.data(), space), &id)) {
    return absl::InvalidArgumentError("not a recorded TcpReceived");
  }
  return TcpReceived{id, std::string(bytes.substr(space + 1)), {}};  // no credit to return
}
std::string EncodeClosed(const TcpClosed& m) { return EncodeStatus(m.stream_id, m.status); }
absl::StatusOr<TcpClosed> DecodeClosed(std::string_view bytes) {
  auto decoded = DecodeStatus(bytes);
  if (!decoded.ok()) return decoded.status();
  return TcpClosed{decoded->first, std::move(decoded->second)};
}
std::string EncodeFrameError(const TcpFrameError& m) {
  return EncodeStatus(m.stream_id, m.status);
}
absl::StatusOr<TcpFrameError> DecodeFrameError(std::string_view bytes) {
  auto decoded = DecodeStatus(bytes);
  if (!decoded.ok()) return decoded.status();
  return TcpFrameError{decoded->first, std::move(decoded->second)};
}
std::string EncodeWritable(const TcpWritable& m) { return absl::StrCat(m.stream_id); }
absl::StatusOr<TcpWritable> DecodeWritable(std::string_view bytes) {
  uint64_t id = 0;
  if (!absl::SimpleAtoi(absl::string_view(bytes.data(), bytes.size()), &id)) {
    return absl::InvalidArgumentError("not a recorded TcpWritable");
  }
  return TcpWritable{id};
}
TROUPE_RECORD_CODEC(TcpReceived, EncodeReceived, DecodeReceived);
TROUPE_RECORD_CODEC(TcpClosed, EncodeClosed, DecodeClosed);
TROUPE_RECORD_CODEC(TcpFrameError, EncodeFrameError, DecodeFrameError);
TROUPE_RECORD_CODEC(TcpWritable, EncodeWritable, DecodeWritable);

}  // namespace

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
  internal::NoteOutput(bytes);  // a recorded (or replayed) actor's output
  if (core_->TryWriteNow(bytes)) return absl::OkStatus();
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
