// OutputPacer: what a chat member's session does with the lines meant for its client, so that a
// room paces a fast sender to the members that read instead of cutting those members off.
//
// Lines go to the session's transport (a TCP stream or a gRPC stream) while it has room (it is
// under its high-water mark); beyond that they are held here, in order. A room line carries its
// sender's flow-control credit (Room shares one Line among its members), and the credit returns
// only when every member holding the line has passed it on: so a sender gets at most its
// credit window (64 KiB of lines on TCP) ahead of the slowest member that is reading, and
// reading from the sender pauses meanwhile. A member that stops reading must not freeze the
// room, nor keep memory for ever, so:
//  - pacing: a member that has taken no output for `pace_timeout` stops pacing (its held lines
//    are copied, letting go of the senders' credit) until it takes output again;
//  - soft limit: output waiting and none of it taken for `stall_timeout`: the member is cut off;
//  - hard limit: more than `hard_bytes` waiting (held here plus queued in the transport): the
//    member is cut off at once (lines without credit, such as joins and private messages, are
//    not paced, so this bounds them).
// The session turns a non-OK status from Add or Check into the cut-off (logged and counted).
//
// Thread safety: owned by one session actor; every call on its turns.
#ifndef EXAMPLES_CHAT_OUTPUT_PACER_H_
#define EXAMPLES_CHAT_OUTPUT_PACER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace troupe::chat {

// One server line (with its newline), shared by every member it goes to. A room line shares
// ownership with its sender's credit (see Room): the credit returns with the last copy.
using Line = std::shared_ptr<const std::string>;
inline Line MakeLine(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

struct OutputLimits {
  size_t hard_bytes = 32 << 20;                      // Redis' pub/sub hard limit
  absl::Duration stall_timeout = absl::Seconds(30);  // output waiting, none taken: cut off
  absl::Duration pace_timeout = absl::Seconds(2);    // none taken: stop pacing the senders
};

class OutputPacer {
 public:
  // The session's side of its client connection.
  class Transport {
   public:
    virtual bool HasRoom() = 0;                    // under its high-water mark
    virtual void Send(const std::string& line) = 0;
    virtual uint64_t Taken() = 0;                  // grows whenever the client takes output
    virtual size_t QueuedBytes() = 0;              // sent to the transport, not yet taken
   protected:
    ~Transport() = default;
  };

  OutputPacer(Transport* transport, OutputLimits limits)
      : transport_(transport), limits_(limits) {}

  // The next line for the client. RESOURCE_EXHAUSTED (saying why) if the member is now past the
  // hard limit and must be cut off.
  absl::Status Add(Line line, absl::Time now);
  // Passes held lines on while the transport has room (call when it says it has room again).
  void Drain();
  // Call periodically while waiting(): DEADLINE_EXCEEDED (saying why) if the member has taken
  // nothing for stall_timeout and must be cut off; stops or resumes pacing as it goes.
  absl::Status Check(absl::Time now);

  // Output held here or queued in the transport.
  bool waiting() const { return !held_.empty() || transport_->QueuedBytes() > 0; }
  size_t held_bytes() const { return held_bytes_; }
  bool pacing() const { return !released_; }
  const OutputLimits& limits() const { return limits_; }

 private:
  void StartWaiting(absl::Time now);

  Transport* const transport_;
  const OutputLimits limits_;
  std::deque<Line> held_;
  size_t held_bytes_ = 0;
  bool released_ = false;      // not pacing: held lines are private copies
  uint64_t last_taken_ = 0;    // Taken() at the last sign of progress
  absl::Time last_progress_;   // when output last moved (or started waiting)
};

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_OUTPUT_PACER_H_
