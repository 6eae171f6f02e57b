// Envelope: the unit a mailbox holds. One heap allocation carries the intrusive queue link,
// the message's type information and the message itself (MessageEnvelope<T>), so sending a
// message costs exactly one allocation and no virtual dispatch.
//
// Ownership: whoever holds an Envelope* owns it until it hands it to a Mailbox, which owns it
// until Pop() hands it to the consumer. Destroy it with DestroyEnvelope().
#ifndef FRAMEWORK_MESSAGE_ENVELOPE_H_
#define FRAMEWORK_MESSAGE_ENVELOPE_H_

#include <cstdint>
#include <string_view>
#include <utility>

#include "framework/base/type_name.h"

namespace troupe {

struct Envelope;

// Per-type descriptor: one static instance per message type (an explicit, two-entry vtable).
struct MessageInfo {
  std::string_view name;             // readable type name, for dead letters and logs
  void (*destroy)(Envelope*);        // deletes the concrete MessageEnvelope<T>
  // Called before destroy() when the envelope could not be delivered (dead letter): fails a
  // pending request so the asker hears NOT_FOUND at once. Null for plain messages.
  void (*undeliverable)(Envelope*);
};

enum class Priority : uint8_t {
  kUser = 0,
  kSystem = 1,  // stop, child-terminated, ...: taken before user messages, never dead letters
};

// Reserved tags (user message tags are indices into the receiver's Protocol).
inline constexpr uint32_t kClosureTag = 0xFFFF0000u;   // runs a closure on the actor
inline constexpr uint32_t kStopTag = 0xFFFF0001u;      // system: stop the actor
inline constexpr uint32_t kChildStoppedTag = 0xFFFF0002u;  // system: a child terminated

struct Envelope {
  Envelope* next = nullptr;  // intrusive link; owned by the queue the envelope is in
  const MessageInfo* info = nullptr;
  uint32_t tag = 0;
  Priority priority = Priority::kUser;
};

template <typename T>
struct MessageEnvelope final : Envelope {
  template <typename... Args>
  explicit MessageEnvelope(uint32_t t, Args&&... args) : payload(std::forward<Args>(args)...) {
    info = &kInfo;
    tag = t;
  }
  T payload;

  static void Destroy(Envelope* e) { delete static_cast<MessageEnvelope*>(e); }
  static constexpr MessageInfo kInfo{kTypeName<T>, &Destroy, nullptr};
};

inline void DestroyEnvelope(Envelope* e) { e->info->destroy(e); }

}  // namespace troupe

#endif  // FRAMEWORK_MESSAGE_ENVELOPE_H_
