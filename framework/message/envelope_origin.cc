#include "framework/message/envelope_origin.h"

#include "framework/message/envelope_side_table.h"
#include "framework/message/envelope_trace.h"

namespace troupe::internal {
namespace {

EnvelopeSideTable<MessageOrigin>& Origins() {
  static auto* const table = new EnvelopeSideTable<MessageOrigin>;  // used until exit
  return *table;
}

}  // namespace

void AttachOrigin(Envelope* e, MessageOrigin origin) {
  Origins().Put(e, origin);
  e->set_has_origin(true);
}

MessageOrigin TakeOrigin(Envelope* e) {
  if (!e->has_origin()) return {};
  e->set_has_origin(false);
  return Origins().Take(e).value_or(MessageOrigin{});
}

size_t OriginEnvelopesInFlight() { return Origins().size(); }

void DropEnvelopeSideData(Envelope* e) {
  if (e->traced()) (void)TakeTrace(e);
  if (e->has_origin()) (void)TakeOrigin(e);
}

}  // namespace troupe::internal
