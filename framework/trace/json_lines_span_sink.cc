#include "framework/trace/json_lines_span_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "proto/trace.pb.h"

namespace troupe {
namespace {

constexpr size_t kMaxBuffered = 4 << 20;
constexpr absl::Duration kFlushEvery = absl::Milliseconds(100);

// Names may come from peers (a gRPC method path): anything but printable ASCII becomes '?', so
// the line is valid JSON of valid UTF-8 whatever was sent.
std::string Printable(absl::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

}  // namespace

absl::StatusOr<std::shared_ptr<JsonLinesSpanSink>> JsonLinesSpanSink::Open(
    const std::string& path, std::string service, int max_spans_per_second) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot open the span file ", path, ": ", std::strerror(errno)));
  }
  return std::shared_ptr<JsonLinesSpanSink>(
      new JsonLinesSpanSink(fd, std::move(service), max_spans_per_second));
}

JsonLinesSpanSink::JsonLinesSpanSink(int fd, std::string service, int max_spans_per_second)
    : fd_(fd),
      service_(std::move(service)),
      rate_(max_spans_per_second),
      flusher_([this] { FlushLoop(); }) {}

JsonLinesSpanSink::~JsonLinesSpanSink() {
  stop_.Notify();
  flusher_.join();
  Flush();
  ::close(fd_);
}

std::string JsonLinesSpanSink::Format(const Span& span, const std::string& service) {
  trace::Span out;
  out.set_trace_id(span.context.TraceIdHex());
  out.set_span_id(TraceContext::SpanIdHex(span.context.span_id));
  if (span.parent_span_id != 0) {
    out.set_parent_span_id(TraceContext::SpanIdHex(span.parent_span_id));
  }
  out.set_name(Printable(span.name));
  out.set_kind(span.kind == Span::Kind::kServer ? "server" : "actor");
  out.set_service(service);
  out.set_start_unix_seconds(absl::ToDoubleSeconds(span.start - absl::UnixEpoch()));
  out.set_duration_seconds(absl::ToDoubleSeconds(span.duration));
  for (const auto& [key, value] : span.attributes) {
    (*out.mutable_attributes())[Printable(key)] = Printable(value);
  }
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string line;
  (void)google::protobuf::util::MessageToJsonString(out, &line, options);  // fails for no Span
  return line;
}

void JsonLinesSpanSink::Record(Span span) {
  uint64_t unused;
  if (!rate_.Allow(&unused)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::string line = Format(span, service_);
  line.push_back('\n');
  MutexLock lock(&mu_);
  if (buffer_.size() + line.size() > kMaxBuffered) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  buffer_.append(line);
  ++buffered_spans_;
}

bool JsonLinesSpanSink::Flush() {
  MutexLock write_lock(&write_mu_);
  std::string pending;
  uint64_t spans;
  {
    MutexLock lock(&mu_);
    pending.swap(buffer_);
    spans = std::exchange(buffered_spans_, 0);
  }
  size_t done = 0;
  while (done < pending.size()) {
    const ssize_t n = ::write(fd_, pending.data() + done, pending.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      dropped_.fetch_add(spans, std::memory_order_relaxed);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

void JsonLinesSpanSink::FlushLoop() {
  while (!stop_.WaitForNotificationWithTimeout(kFlushEvery)) Flush();
}

}  // namespace troupe
