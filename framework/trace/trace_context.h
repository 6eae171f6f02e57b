// TraceContext: W3C Trace Context (https://www.w3.org/TR/trace-context/) as troupe carries it:
// the trace a message belongs to and the span that sent it.
//
//   00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
//   version trace-id (16 bytes)          parent-id (8)    flags (bit 0: sampled)
//
// Where it comes from and goes (docs/observability.md): the gRPC gateway takes the `traceparent`
// header of a call; a message sent while a trace is current (ScopedTrace, or inside the handler
// of a traced message) carries it; the handler that receives it runs as a new span of the same
// trace (its Tells and Asks inherit it); node links carry it in node.proto's
// Envelope.trace_context, and AddTraceContext() passes it on to an outgoing gRPC call. A
// malformed header is ignored (the call is untraced), never an error.
//
// Thread safety: TraceContext is a value. The current trace is per thread.
#ifndef FRAMEWORK_TRACE_TRACE_CONTEXT_H_
#define FRAMEWORK_TRACE_TRACE_CONTEXT_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace troupe {

struct TraceContext {
  std::array<uint8_t, 16> trace_id{};  // all zero: no trace
  uint64_t span_id = 0;                // the sending span (the receiver's parent); never 0
  uint8_t flags = 0;                   // W3C trace-flags; bit 0: sampled (spans are recorded)

  bool valid() const;
  bool sampled() const { return (flags & 1) != 0; }

  // A traceparent header value (version 00). std::nullopt for anything W3C says to ignore:
  // wrong length or separators, upper-case or non-hex digits, version ff, an all-zero trace or
  // parent id. Later versions are read by their version-00 prefix, as the standard asks.
  static std::optional<TraceContext> Parse(absl::string_view traceparent);
  // A new trace with random ids (sampled unless told otherwise).
  static TraceContext NewRoot(bool sampled = true);

  // The same trace, sent from a new span (a random span id).
  TraceContext Child() const;

  std::string ToTraceparent() const;  // "00-<trace>-<span>-<flags>"
  std::string TraceIdHex() const;     // 32 lower-case hex digits
  static std::string SpanIdHex(uint64_t span_id);  // 16 lower-case hex digits

  friend bool operator==(const TraceContext& a, const TraceContext& b) {
    return a.trace_id == b.trace_id && a.span_id == b.span_id && a.flags == b.flags;
  }
};

// A random non-zero span id.
uint64_t NewSpanId();

namespace internal {
// initial-exec: one load from the thread pointer, also from shared objects (tests link them).
inline thread_local const TraceContext* tls_current_trace __attribute__((tls_model("initial-exec"))) =
    nullptr;
}  // namespace internal

// The trace the calling thread is working for (inside a traced handler, or under a
// ScopedTrace), or null.
inline const TraceContext* CurrentTrace() { return internal::tls_current_trace; }

// Makes `trace` (null: none) current on this thread until the scope ends, then restores what
// was current before. `trace` must outlive the scope.
class ScopedTrace {
 public:
  explicit ScopedTrace(const TraceContext* trace) : previous_(internal::tls_current_trace) {
    internal::tls_current_trace = (trace != nullptr && trace->valid()) ? trace : nullptr;
  }
  ~ScopedTrace() { internal::tls_current_trace = previous_; }
  ScopedTrace(const ScopedTrace&) = delete;
  ScopedTrace& operator=(const ScopedTrace&) = delete;

 private:
  const TraceContext* const previous_;
};

// The trace current where it is made, kept to be made current again later, elsewhere: an
// ask's answer, a timer's callback, blocking work's result run as the actor's next message.
//
//   SavedTrace saved;                 // in the handler
//   ... later, on any thread:
//   ScopedTrace scope(saved.get());   // what is sent now goes on in that trace (or in none)
class SavedTrace {
 public:
  SavedTrace() {
    if (const TraceContext* t = CurrentTrace(); t != nullptr) trace_ = *t;
  }
  const TraceContext* get() const { return trace_.has_value() ? &*trace_ : nullptr; }

 private:
  std::optional<TraceContext> trace_;
};

}  // namespace troupe

#endif  // FRAMEWORK_TRACE_TRACE_CONTEXT_H_
