// Envelope: the unit a mailbox holds. One allocation (from the sending thread's slab, see
// envelope_slab.h) carries the intrusive queue link, the message's type information and the
// message itself (MessageEnvelope<T>), so sending a message costs one allocation and no virtual
// dispatch.
//
// Ownership: whoever holds an Envelope* owns it until it hands it to a Mailbox, which owns it
// until Pop() hands it to the consumer. Destroy it with DestroyEnvelope().
// Thread safety: an envelope is used by its one owner at a time; it may be created on one
// thread and destroyed on another.
#ifndef FRAMEWORK_MESSAGE_ENVELOPE_H_
#define FRAMEWORK_MESSAGE_ENVELOPE_H_

#include <cstddef>
#include <cstdint>
#include <new>
#include <string_view>
#include <utility>

#include "framework/base/type_name.h"
#include "framework/message/envelope_slab.h"

namespace troupe {

struct Envelope;

// Why a message could not be delivered (a request among them fails accordingly).
enum class UndeliverableReason : uint8_t {
  kStopped,      // NOT_FOUND: the target has stopped
  kMailboxFull,  // RESOURCE_EXHAUSTED: the target's bounded mailbox refused or dropped it
};

// Per-type descriptor: one static instance per message type (an explicit, two-entry vtable).
struct alignas(8) MessageInfo {
  std::string_view name;       // readable type name, for dead letters and logs
  void (*destroy)(Envelope*);  // deletes the concrete MessageEnvelope<T>
  // Called before destroy() when the envelope could not be delivered (dead letter): fails a
  // pending request so the asker hears why at once. Null for plain messages.
  void (*undeliverable)(Envelope*, UndeliverableReason);
  // Whether envelopes of this type come from a slab (envelope_slab.h), where data kept beside
  // them has a slot of its own (SlabSideSlot). Null: no.
  bool (*slab_allocated)() = nullptr;
};

// For MessageInfo::slab_allocated of an envelope type E (Envelope's operator new below).
template <typename E>
bool SlabAllocated() {
#ifdef TROUPE_SANITIZED
  return false;
#else
  return sizeof(E) <= internal::kMaxSlabAllocation && alignof(E) <= 16;
#endif
}

enum class Priority : uint8_t {
  kUser = 0,
  kSystem = 1,  // stop, child-terminated, ...: taken before user messages, never dead letters
};

// Tags: user message tags are indices into the receiver's Protocol (below kFirstReservedTag);
// the runtime reserves the rest.
inline constexpr uint32_t kFirstReservedTag = 0xFFF0;
inline constexpr uint32_t kClosureTag = 0xFFF0;       // runs a closure on the actor
inline constexpr uint32_t kStopTag = 0xFFF1;          // system: stop the actor
inline constexpr uint32_t kChildStoppedTag = 0xFFF2;  // system: a child terminated
inline constexpr uint32_t kWatchTag = 0xFFF3;         // system: monitor or link this actor
inline constexpr uint32_t kChildFailedTag = 0xFFF4;   // system: a supervised child failed
inline constexpr uint32_t kRestartTag = 0xFFF5;       // system: restart (from the supervisor)
inline constexpr uint32_t kLinkFailedTag = 0xFFF6;    // system: a linked actor failed

// 16 bytes, so that an envelope with an 8-byte message is a 32-byte allocation: a flood of
// messages is memory-bound, and this is a third less memory than a 24-byte header. The info
// pointer (8-aligned static data, below 2^48 in every Linux user address space), the tag (16
// bits), the priority (1 bit), whether a trace context travels with it (1 bit) and whether it
// carries an origin of a recorded run (1 bit, envelope_origin.h) share one word.
struct Envelope {
  Envelope* next = nullptr;  // intrusive link; owned by the queue the envelope is in

  const MessageInfo* info() const {
    return reinterpret_cast<const MessageInfo*>(meta_ & kInfoMask);
  }
  uint32_t tag() const { return static_cast<uint32_t>(meta_ >> kTagShift); }
  Priority priority() const { return (meta_ & 1) != 0 ? Priority::kSystem : Priority::kUser; }

  void Init(const MessageInfo* info, uint32_t tag) {
    meta_ = reinterpret_cast<uintptr_t>(info) | (static_cast<uint64_t>(tag) << kTagShift);
  }
  void set_priority(Priority p) { meta_ = (meta_ & ~uint64_t{1}) | static_cast<uint64_t>(p); }
  // A trace context travels with this envelope (envelope_trace.h keeps it beside, by address).
  bool traced() const { return (meta_ & kTracedBit) != 0; }
  void set_traced(bool traced) { meta_ = traced ? (meta_ | kTracedBit) : (meta_ & ~kTracedBit); }
  // It carries its origin in a recorded run (envelope_origin.h keeps it beside, by address).
  bool has_origin() const { return (meta_ & kOriginBit) != 0; }
  void set_has_origin(bool has) { meta_ = has ? (meta_ | kOriginBit) : (meta_ & ~kOriginBit); }
  // Something is kept beside it (a trace or an origin): DestroyEnvelope must drop it.
  bool has_side_data() const { return (meta_ & (kTracedBit | kOriginBit)) != 0; }

#ifndef TROUPE_SANITIZED
  // Envelopes (every subclass) come from per-thread slabs (envelope_slab.h).
  static void* operator new(std::size_t size) {
    return size <= internal::kMaxSlabAllocation ? internal::SlabAllocate(size)
                                                : ::operator new(size);
  }
  static void operator delete(void* p, std::size_t size) {
    if (size <= internal::kMaxSlabAllocation) {
      internal::SlabFree(p);
    } else {
      ::operator delete(p);
    }
  }
  // Payloads aligned beyond 16 bytes use the global allocator.
  static void* operator new(std::size_t size, std::align_val_t al) {
    return ::operator new(size, al);
  }
  static void operator delete(void* p, std::size_t size, std::align_val_t al) {
    ::operator delete(p, size, al);
  }
#endif

 private:
  static constexpr int kTagShift = 48;
  static constexpr uint64_t kTracedBit = 2;
  static constexpr uint64_t kOriginBit = 4;
  static constexpr uint64_t kInfoMask = ((uint64_t{1} << kTagShift) - 1) & ~uint64_t{7};
  uint64_t meta_ = 0;
};
static_assert(sizeof(Envelope) == 16);
static_assert(sizeof(void*) == 8, "the envelope packs a pointer into 48 bits");

template <typename T>
struct MessageEnvelope final : Envelope {
  template <typename... Args>
  explicit MessageEnvelope(uint32_t t, Args&&... args) : payload(std::forward<Args>(args)...) {
    Init(&kInfo, t);
  }
  T payload;

  static void Destroy(Envelope* e) { delete static_cast<MessageEnvelope*>(e); }
  static constexpr MessageInfo kInfo{kTypeName<T>, &Destroy, nullptr,
                                     &SlabAllocated<MessageEnvelope>};
};

namespace internal {
void DropEnvelopeSideData(Envelope* e);  // envelope_origin.cc
}  // namespace internal

inline void DestroyEnvelope(Envelope* e) {
  if (e->has_side_data()) internal::DropEnvelopeSideData(e);
  e->info()->destroy(e);
}

}  // namespace troupe

#endif  // FRAMEWORK_MESSAGE_ENVELOPE_H_
