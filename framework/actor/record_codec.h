// How a message from outside the actors (bytes received, a connection closed) is written into a
// recording and made again in its replay. Messages sent by recorded actors need no codec: a
// replay makes them again by running the same actors. A message type gets a codec where it is
// defined (actors/tcp does it for TcpReceived and friends):
//
//   std::string EncodeClosed(const TcpClosed& m);
//   absl::StatusOr<TcpClosed> DecodeClosed(std::string_view bytes);
//   TROUPE_RECORD_CODEC(TcpClosed, EncodeClosed, DecodeClosed);
//
// An outside message without one is recorded by its type only; its replay waits for the same
// message to be sent again (by the test driving the replay).
//
// Thread safety: codecs are registered during static initialization; lookups from any thread.
#ifndef FRAMEWORK_ACTOR_RECORD_CODEC_H_
#define FRAMEWORK_ACTOR_RECORD_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "framework/message/envelope.h"

namespace troupe::internal {

struct RecordCodec {
  std::string (*encode)(const Envelope& e);
  // A new envelope (tag `tag`) holding the decoded message; INVALID_ARGUMENT if malformed.
  absl::StatusOr<Envelope*> (*decode)(std::string_view bytes, uint32_t tag);
};

// Returns true (for use in a static initializer).
bool RegisterRecordCodec(const MessageInfo* info, RecordCodec codec);
const RecordCodec* FindRecordCodec(const MessageInfo* info);
const RecordCodec* FindRecordCodec(std::string_view type_name);

template <typename T, std::string (*Encode)(const T&),
          absl::StatusOr<T> (*Decode)(std::string_view)>
struct TypedRecordCodec {
  static std::string EncodeEnvelope(const Envelope& e) {
    return Encode(static_cast<const MessageEnvelope<T>&>(e).payload);
  }
  static absl::StatusOr<Envelope*> DecodeEnvelope(std::string_view bytes, uint32_t tag) {
    absl::StatusOr<T> message = Decode(bytes);
    if (!message.ok()) return message.status();
    return new MessageEnvelope<T>(tag, *std::move(message));
  }
  static inline const bool kRegistered = RegisterRecordCodec(
      &MessageEnvelope<T>::kInfo, {&EncodeEnvelope, &DecodeEnvelope});
};

}  // namespace troupe::internal

#define TROUPE_RECORD_CODEC_CAT2(a, b) a##b
#define TROUPE_RECORD_CODEC_CAT(a, b) TROUPE_RECORD_CODEC_CAT2(a, b)
#define TROUPE_RECORD_CODEC(Type, encode, decode)                                  \
  [[maybe_unused]] static const bool TROUPE_RECORD_CODEC_CAT(kRecordCodec_, __LINE__) = \
      ::troupe::internal::TypedRecordCodec<Type, encode, decode>::kRegistered

#endif  // FRAMEWORK_ACTOR_RECORD_CODEC_H_
