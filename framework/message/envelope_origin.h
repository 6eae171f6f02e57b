// Where a message came from, in a recorded (or replayed) run: the sending actor's key in the
// recording and how many messages that actor had sent to the receiver, this one included. The same message
// gets the same origin in the recorded run and in its replay, so a replay can hand an actor
// its messages in the recorded order (framework/record). Kept beside the envelope - in its
// slab's side slot (envelope_slab.h), else in a table (envelope_side_table.h) - so envelopes of
// systems that do not record pay one bit test.
//
// Ownership: the entry belongs to the envelope: TakeOrigin() removes it when the envelope is
// handled, DestroyEnvelope() when it is destroyed otherwise.
// Thread safety: any thread; an envelope is used by its one owner at a time (envelope.h).
#ifndef FRAMEWORK_MESSAGE_ENVELOPE_ORIGIN_H_
#define FRAMEWORK_MESSAGE_ENVELOPE_ORIGIN_H_

#include <cstddef>
#include <cstdint>

#include "framework/message/envelope.h"

namespace troupe::internal {

struct MessageOrigin {
  uint64_t sender = 0;  // the sending actor's key; 0: sent from outside any recorded actor
  uint64_t seq = 0;     // the sender's count of messages sent to the receiver, this one included
  bool operator==(const MessageOrigin&) const = default;
};

void AttachOrigin(Envelope* e, MessageOrigin origin);
// Removes and returns the origin `e` carries ({0, 0}: none, an outside sender).
MessageOrigin TakeOrigin(Envelope* e);
// Envelopes carrying an origin in the table now (for tests: none may be left behind).
size_t OriginEnvelopesInFlight();

}  // namespace troupe::internal

#endif  // FRAMEWORK_MESSAGE_ENVELOPE_ORIGIN_H_
