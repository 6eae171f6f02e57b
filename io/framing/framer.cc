#include "io/framing/framer.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace troupe {
namespace {

class RawFramer final : public Framer {
 public:
  bool Feed(std::string_view bytes, FrameSink& sink) override {
    if (!bytes.empty()) sink.OnFrame(bytes);
    return true;
  }
  size_t buffered() const override { return 0; }
  absl::Status Encode(std::string_view payload, std::string& out) const override {
    out.append(payload);
    return absl::OkStatus();
  }
};

class LineFramer final : public Framer {
 public:
  explicit LineFramer(size_t max) : max_(max) {}

  bool Feed(std::string_view bytes, FrameSink& sink) override {
    while (!bytes.empty()) {
      const size_t nl = bytes.find('\n');
      const std::string_view piece = bytes.substr(0, nl);  // up to the newline, or all
      if (skipping_) {
        if (nl == std::string_view::npos) return true;  // still inside the oversized line
        skipping_ = false;
      } else if (partial_.size() + piece.size() > max_ + 1) {  // +1: a "\r" may be dropped
        partial_.clear();
        partial_.shrink_to_fit();
        sink.OnFrameError(
            absl::InvalidArgumentError(absl::StrCat("line exceeds the ", max_, "-byte limit")));
        if (nl == std::string_view::npos) {
          skipping_ = true;
          return true;
        }
      } else if (nl == std::string_view::npos) {
        partial_.append(piece);
        return true;
      } else if (partial_.empty()) {
        Emit(piece, sink);  // zero copy
      } else {
        partial_.append(piece);
        std::string line;
        line.swap(partial_);
        Emit(line, sink);
      }
      bytes.remove_prefix(nl + 1);
    }
    return true;
  }

  size_t buffered() const override { return partial_.size(); }

  absl::Status Encode(std::string_view payload, std::string& out) const override {
    if (payload.size() > max_) {
      return absl::InvalidArgumentError(absl::StrCat("line exceeds the ", max_, "-byte limit"));
    }
    if (payload.find('\n') != std::string_view::npos) {
      return absl::InvalidArgumentError("a line cannot contain a newline");
    }
    out.append(payload);
    out.push_back('\n');
    return absl::OkStatus();
  }

 private:
  void Emit(std::string_view line, FrameSink& sink) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > max_) {
      sink.OnFrameError(
          absl::InvalidArgumentError(absl::StrCat("line exceeds the ", max_, "-byte limit")));
      return;
    }
    sink.OnFrame(line);
  }

  const size_t max_;
  std::string partial_;
  bool skipping_ = false;
};

class LengthPrefixedFramer final : public Framer {
 public:
  explicit LengthPrefixedFramer(size_t max) : max_(max) {}

  bool Feed(std::string_view bytes, FrameSink& sink) override {
    if (failed_) return false;
    while (!bytes.empty()) {
      if (header_bytes_ < 4) {
        const size_t take = std::min<size_t>(4 - header_bytes_, bytes.size());
        for (size_t i = 0; i < take; ++i) header_[header_bytes_++] = static_cast<uint8_t>(bytes[i]);
        bytes.remove_prefix(take);
        if (header_bytes_ < 4) return true;
        length_ = (uint32_t{header_[0]} << 24) | (uint32_t{header_[1]} << 16) |
                  (uint32_t{header_[2]} << 8) | uint32_t{header_[3]};
        if (length_ > max_) {  // before allocating anything
          failed_ = true;
          sink.OnFrameError(absl::InvalidArgumentError(
              absl::StrCat("frame of ", length_, " bytes exceeds the ", max_, "-byte limit")));
          return false;
        }
        partial_.clear();
      }
      const size_t need = length_ - partial_.size();
      if (partial_.empty() && bytes.size() >= need) {
        sink.OnFrame(bytes.substr(0, need));  // zero copy
        bytes.remove_prefix(need);
        header_bytes_ = 0;
        continue;
      }
      if (partial_.capacity() < length_) partial_.reserve(length_);
      const size_t take = std::min(need, bytes.size());
      partial_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      if (partial_.size() == length_) {
        sink.OnFrame(partial_);
        partial_.clear();
        header_bytes_ = 0;
      }
    }
    return true;
  }

  size_t buffered() const override {
    return header_bytes_ < 4 ? header_bytes_ : 4 + partial_.size();
  }

  absl::Status Encode(std::string_view payload, std::string& out) const override {
    if (payload.size() > max_) {
      return absl::InvalidArgumentError(
          absl::StrCat("frame of ", payload.size(), " bytes exceeds the ", max_, "-byte limit"));
    }
    const uint32_t n = static_cast<uint32_t>(payload.size());
    const char header[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                            static_cast<char>(n >> 8), static_cast<char>(n)};
    out.append(header, 4);
    out.append(payload);
    return absl::OkStatus();
  }

 private:
  const size_t max_;
  uint8_t header_[4] = {};
  size_t header_bytes_ = 0;
  uint32_t length_ = 0;
  std::string partial_;
  bool failed_ = false;
};

}  // namespace

std::unique_ptr<Framer> MakeFramer(const FramingOptions& options) {
  switch (options.kind) {
    case FramingOptions::Kind::kLine:
      return std::make_unique<LineFramer>(options.max_frame_size);
    case FramingOptions::Kind::kLengthPrefixed:
      return std::make_unique<LengthPrefixedFramer>(options.max_frame_size);
    case FramingOptions::Kind::kRaw:
      break;
  }
  return std::make_unique<RawFramer>();
}

}  // namespace troupe
