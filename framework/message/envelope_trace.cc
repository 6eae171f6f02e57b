#include "framework/message/envelope_trace.h"

#include "framework/message/envelope_side_table.h"

namespace troupe::internal {
namespace {

EnvelopeSideTable<TraceContext>& Traces() {
  static auto* const table = new EnvelopeSideTable<TraceContext>;  // used until exit
  return *table;
}

}  // namespace

void AttachTrace(Envelope* e, const TraceContext& trace) {
  Traces().Put(e, trace);
  e->set_traced(true);
}

TraceContext TakeTrace(Envelope* e) {
  e->set_traced(false);
  return Traces().Take(e).value_or(TraceContext{});
}

size_t TracedEnvelopesInFlight() { return Traces().size(); }

}  // namespace troupe::internal
