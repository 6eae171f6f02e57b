// DeadLetters: where messages that could not be delivered are counted and can be observed.
//
// A message sent to an actor that has stopped (or stops before processing it) is never lost
// silently: it is recorded here with its type and reason, then destroyed; a request among them
// is answered with NOT_FOUND at once. System signals (stop, child stopped) are not counted.
//
// Thread safety: all methods from any thread. Observers run on the thread that recorded the
// dead letter (often a worker): they must be quick, must not block, and must be thread-safe.
#ifndef FRAMEWORK_ACTOR_DEAD_LETTERS_H_
#define FRAMEWORK_ACTOR_DEAD_LETTERS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "framework/base/mutex.h"

namespace troupe {

enum class DeadLetterReason {
  kStopped,          // the target had stopped (or stopped with the message still queued)
  kNodeUnreachable,  // a remote target's node was down, or its link broke before the ack
  kLinkFull,         // too many messages to a remote node awaited their ack
  kTooLarge,         // the serialized message exceeds the link's max message size
  kMailboxFull,      // the target's bounded mailbox was full (refused or dropped by its policy)
};
inline constexpr int kDeadLetterReasons = 5;
std::string_view DeadLetterReasonName(DeadLetterReason reason);  // "stopped", "mailbox_full", ...

struct DeadLetter {
  uint64_t target_id = 0;
  std::string_view message_type;  // static storage
  DeadLetterReason reason = DeadLetterReason::kStopped;
};

class DeadLetters {
 public:
  using Observer = absl::AnyInvocable<void(const DeadLetter&)>;

  void Record(const DeadLetter& letter);
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  uint64_t count(DeadLetterReason reason) const {
    return by_reason_[static_cast<int>(reason)].load(std::memory_order_relaxed);
  }

  // Returns an id for RemoveObserver.
  int AddObserver(Observer observer);
  void RemoveObserver(int id);

 private:
  std::atomic<uint64_t> count_{0};
  std::array<std::atomic<uint64_t>, kDeadLetterReasons> by_reason_{};
  std::atomic<bool> has_observers_{false};
  Mutex mu_;
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::pair<int, Observer>> observers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace troupe

#endif  // FRAMEWORK_ACTOR_DEAD_LETTERS_H_
