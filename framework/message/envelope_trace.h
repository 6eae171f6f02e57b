// The trace contexts of envelopes in flight (framework/trace/trace_context.h). An envelope sent
// while a trace is current carries it; the context is kept beside the envelope, in a table
// keyed by its address, so untraced envelopes stay 16 bytes and pay one bit test.
//
// Ownership: the entry belongs to the envelope: TakeTrace() removes it when the envelope is
// delivered, DestroyEnvelope() when it is destroyed undelivered.
// Thread safety: all functions from any thread (the table is sharded, each shard locked); an
// envelope itself is used by its one owner at a time (envelope.h).
#ifndef FRAMEWORK_MESSAGE_ENVELOPE_TRACE_H_
#define FRAMEWORK_MESSAGE_ENVELOPE_TRACE_H_

#include "framework/message/envelope.h"
#include "framework/trace/trace_context.h"

namespace troupe::internal {

// Attaches `trace` to `e` (replacing what it carried).
void AttachTrace(Envelope* e, const TraceContext& trace);
// Removes and returns the trace `e` carries (e->traced() must be true).
TraceContext TakeTrace(Envelope* e);
// Envelopes carrying a trace now (for tests: none may be left behind).
size_t TracedEnvelopesInFlight();

}  // namespace troupe::internal

#endif  // FRAMEWORK_MESSAGE_ENVELOPE_TRACE_H_
