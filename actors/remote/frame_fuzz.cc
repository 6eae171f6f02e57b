// Fuzz target: a node stream's frames as the serving side decodes them. The input is a sequence
// of frames, each a 2-byte length and that many bytes of a serialized ClientFrame. For any
// input: no crash; a frame that does not parse, or breaks the stream's rules, ends the stream for
// good; an accepted batch advances the sequence by its envelope count; payloads decode only as
// the types an exported actor takes (here the ping protocol's), anything else is refused.
// Built with libFuzzer by tools/fuzz; replayed on its seed corpus by
// //actors/remote:frame_fuzz_test.
#include <cstddef>
#include <cstdint>
#include <string>

#include "actors/remote/frame_check.h"
#include "proto/node.pb.h"
#include "proto/ping.pb.h"

#define FUZZ_CHECK(condition) \
  if (!(condition)) __builtin_trap()

namespace {

// Decodes a payload as the named type, only if it is one the (ping) actor takes.
bool DecodeForPingActor(const std::string& type, const std::string& payload) {
  if (type == "troupe.examples.Ping") return troupe::examples::Ping().ParseFromString(payload);
  if (type == "troupe.examples.CountPings") {
    return troupe::examples::CountPings().ParseFromString(payload);
  }
  return false;  // unknown to this actor: never instantiated
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  troupe::internal::InboundFrameCheck check;
  bool ended = false;
  size_t at = 0;
  while (at + 2 <= size) {
    const size_t n = std::min<size_t>(size - at - 2, (data[at] << 8) | data[at + 1]);
    at += 2;
    troupe::node::ClientFrame frame;
    const bool parsed = frame.ParseFromArray(data + at, static_cast<int>(n));
    at += n;
    if (!parsed) {
      ended = true;  // the gRPC layer ends a stream whose message does not parse
      continue;
    }
    const uint64_t before = check.expected_sequence();
    const bool was_hello = !check.hello_seen();
    absl::Status accepted = check.Accept(frame);
    if (ended) continue;
    if (!accepted.ok()) {
      ended = true;
      FUZZ_CHECK(check.expected_sequence() == before);  // nothing of a bad batch is taken
      FUZZ_CHECK(!check.Accept(frame).ok());            // and the stream stays ended
      continue;
    }
    if (was_hello) {
      FUZZ_CHECK(check.hello_seen() && before == 1);
      continue;
    }
    FUZZ_CHECK(check.expected_sequence() ==
               before + static_cast<uint64_t>(frame.batch().envelopes_size()));
    for (const troupe::node::Envelope& envelope : frame.batch().envelopes()) {
      (void)DecodeForPingActor(envelope.message_type(), envelope.payload());
    }
  }
  return 0;
}
