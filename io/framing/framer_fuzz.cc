// Fuzz target: the line and length-prefixed framers. For any bytes: no crash; no frame and no
// buffer beyond the limit; the same frames and errors however the stream is chunked; and what
// Encode writes decodes to the same frame. The first input byte picks the framer, unless the
// build fixes it (tools/fuzz builds one target per framer: -DFUZZ_LINE_FRAMER or
// -DFUZZ_LENGTH_PREFIXED_FRAMER). Built with libFuzzer by tools/fuzz; replayed on its seed
// corpus by //io/framing:framer_fuzz_test.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/framing/framer.h"

namespace {

using troupe::FramingOptions;

#define FUZZ_CHECK(condition) \
  if (!(condition)) __builtin_trap()

struct Collected final : troupe::FrameSink {
  std::vector<std::string> frames;
  int errors = 0;
  size_t limit = 0;
  void OnFrame(std::string_view frame) override {
    FUZZ_CHECK(frame.size() <= limit);
    frames.emplace_back(frame);
  }
  void OnFrameError(absl::Status error) override {
    FUZZ_CHECK(error.code() == absl::StatusCode::kInvalidArgument);
    ++errors;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  FramingOptions options;
#if defined(FUZZ_LINE_FRAMER)
  options.kind = FramingOptions::Kind::kLine;
#elif defined(FUZZ_LENGTH_PREFIXED_FRAMER)
  options.kind = FramingOptions::Kind::kLengthPrefixed;
#else
  options.kind = (data[0] & 1) ? FramingOptions::Kind::kLine : FramingOptions::Kind::kLengthPrefixed;
#endif
  options.max_frame_size = 1 + (static_cast<size_t>(data[1]) << (data[0] & 6));  // 1 B .. 16 KiB
  uint32_t chunk_seed = data[2];
  const std::string_view stream(reinterpret_cast<const char*>(data) + 3, size - 3);
  // A length-prefixed header holds 4 bytes besides the payload; a line, its "\r".
  const size_t max_buffered = options.max_frame_size + 4;

  // The whole stream at once, then the same stream cut at pseudo-random points.
  auto whole_framer = troupe::MakeFramer(options);
  Collected whole;
  whole.limit = options.max_frame_size;
  whole_framer->Feed(stream, whole);
  FUZZ_CHECK(whole_framer->buffered() <= max_buffered);

  auto chunked_framer = troupe::MakeFramer(options);
  Collected chunked;
  chunked.limit = options.max_frame_size;
  for (size_t at = 0; at < stream.size();) {
    chunk_seed = chunk_seed * 1103515245u + 12345u;
    const size_t n = std::min<size_t>(stream.size() - at, 1 + (chunk_seed >> 16) % 17);
    chunked_framer->Feed(stream.substr(at, n), chunked);
    FUZZ_CHECK(chunked_framer->buffered() <= max_buffered);
    at += n;
  }
  FUZZ_CHECK(chunked.frames == whole.frames);
  FUZZ_CHECK(chunked.errors == whole.errors);

  // Round trip: Encode, then decode what was written.
  for (const std::string& frame : whole.frames) {
    if (options.kind == FramingOptions::Kind::kLine && !frame.empty() && frame.back() == '\r') {
      continue;  // a line's trailing "\r" is taken for a CRLF ending: not a round trip
    }
    std::string encoded;
    if (!whole_framer->Encode(frame, encoded).ok()) continue;
    auto decoder = troupe::MakeFramer(options);
    Collected again;
    again.limit = options.max_frame_size;
    decoder->Feed(encoded, again);
    FUZZ_CHECK(again.errors == 0 && again.frames.size() == 1 && again.frames[0] == frame);
  }
  return 0;
}
