#include "framework/message/envelope_origin.h"

#include <new>

#include "framework/message/envelope_side_table.h"
#include "framework/message/envelope_slab.h"
#include "framework/message/envelope_trace.h"

namespace troupe::internal {
namespace {

EnvelopeSideTable<MessageOrigin>& Origins() {
  static auto* const table = new EnvelopeSideTable<MessageOrigin>;  // used until exit
  return *table;
}

}  // namespace

// Slab envelopes keep their origin in their slab's side slot (no lock, no lookup); the rest
// (large, over-aligned, or every envelope under the sanitizers) in the sharded table.
bool InSlab(const Envelope* e) {
  return e->info()->slab_allocated != nullptr && e->info()->slab_allocated();
}

void AttachOrigin(Envelope* e, MessageOrigin origin) {
  if (InSlab(e)) {
    static_assert(sizeof(MessageOrigin) <= 16, "a side slot holds 16 bytes");
    new (SlabSideSlot(e)) MessageOrigin(origin);
  } else {
    Origins().Put(e, origin);
  }
  e->set_has_origin(true);
}

MessageOrigin TakeOrigin(Envelope* e) {
  if (!e->has_origin()) return {};
  e->set_has_origin(false);
  if (InSlab(e)) return *static_cast<const MessageOrigin*>(SlabSideSlot(e));
  return Origins().Take(e).value_or(MessageOrigin{});
}

size_t OriginEnvelopesInFlight() { return Origins().size(); }

void DropEnvelopeSideData(Envelope* e) {
  if (e->traced()) (void)TakeTrace(e);
  if (e->has_origin()) (void)TakeOrigin(e);
}

}  // namespace troupe::internal
