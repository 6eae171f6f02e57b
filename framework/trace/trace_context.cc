#include "framework/trace/trace_context.h"

#include <cstring>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"

namespace troupe {
namespace {

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::BitGen& Random() {
  thread_local absl::BitGen gen;
  return gen;
}

}  // namespace

bool TraceContext::valid() const {
  for (uint8_t b : trace_id) {
    if (b != 0) return span_id != 0;
  }
  return false;
}

std::optional<TraceContext> TraceContext::Parse(absl::string_view s) {
  // version(2) '-' trace-id(32) '-' parent-id(16) '-' flags(2) = 55 characters.
  constexpr size_t kLength = 55;
  if (s.size() < kLength) return std::nullopt;
  const absl::string_view version = s.substr(0, 2);
  if (!IsLowerHex(version) || version == "ff") return std::nullopt;
  if (version == "00" ? s.size() != kLength : (s.size() > kLength && s[kLength] != '-')) {
    return std::nullopt;
  }
  if (s[2] != '-' || s[35] != '-' || s[52] != '-') return std::nullopt;
  const absl::string_view trace = s.substr(3, 32), parent = s.substr(36, 16),
                          flags = s.substr(53, 2);
  if (!IsLowerHex(trace) || !IsLowerHex(parent) || !IsLowerHex(flags)) return std::nullopt;
  TraceContext t;
  const std::string trace_bytes = absl::HexStringToBytes(trace);
  std::memcpy(t.trace_id.data(), trace_bytes.data(), t.trace_id.size());
  const std::string parent_bytes = absl::HexStringToBytes(parent);
  for (unsigned char b : parent_bytes) t.span_id = (t.span_id << 8) | b;
  t.flags = static_cast<uint8_t>(absl::HexStringToBytes(flags)[0]);
  if (!t.valid()) return std::nullopt;  // an all-zero trace or parent id
  return t;
}

uint64_t NewSpanId() {
  uint64_t id;
  do {
    id = absl::Uniform<uint64_t>(Random());
  } while (id == 0);
  return id;
}

TraceContext TraceContext::NewRoot(bool sampled) {
  TraceContext t;
  do {
    for (size_t i = 0; i < t.trace_id.size(); i += 8) {
      const uint64_t r = absl::Uniform<uint64_t>(Random());
      std::memcpy(t.trace_id.data() + i, &r, 8);
    }
    t.span_id = NewSpanId();
  } while (!t.valid());
  t.flags = sampled ? 1 : 0;
  return t;
}

TraceContext TraceContext::Child() const {
  TraceContext t = *this;
  t.span_id = NewSpanId();
  return t;
}

std::string TraceContext::TraceIdHex() const {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(trace_id.data()), trace_id.size()));
}

std::string TraceContext::SpanIdHex(uint64_t span_id) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(span_id >> (56 - 8 * i));
  return absl::BytesToHexString(absl::string_view(bytes, 8));
}

std::string TraceContext::ToTraceparent() const {
  const char flag_byte = static_cast<char>(flags);
  return "00-" + TraceIdHex() + "-" + SpanIdHex(span_id) + "-" +
         absl::BytesToHexString(absl::string_view(&flag_byte, 1));
}

}  // namespace troupe
