#include "framework/actor/dead_letters.h"

#include <algorithm>

namespace troupe {

std::string_view DeadLetterReasonName(DeadLetterReason reason) {
  switch (reason) {
    case DeadLetterReason::kStopped:
      return "stopped";
    case DeadLetterReason::kNodeUnreachable:
      return "node_unreachable";
    case DeadLetterReason::kLinkFull:
      return "link_full";
    case DeadLetterReason::kTooLarge:
      return "too_large";
    case DeadLetterReason::kMailboxFull:
      return "mailbox_full";
  }
  return "unknown";
}

void DeadLetters::Record(const DeadLetter& letter) {
  count_.fetch_add(1, std::memory_order_relaxed);
  by_reason_[static_cast<int>(letter.reason)].fetch_add(1, std::memory_order_relaxed);
  if (!has_observers_.load(std::memory_order_acquire)) return;
  MutexLock lock(&mu_);
  for (auto& [id, observer] : observers_) observer(letter);
}

int DeadLetters::AddObserver(Observer observer) {
  MutexLock lock(&mu_);
  const int id = next_id_++;
  observers_.emplace_back(id, std::move(observer));
  has_observers_.store(true, std::memory_order_release);
  return id;
}

void DeadLetters::RemoveObserver(int id) {
  MutexLock lock(&mu_);
  observers_.erase(std::remove_if(observers_.begin(), observers_.end(),
                                  [id](const auto& o) { return o.first == id; }),
                   observers_.end());
  has_observers_.store(!observers_.empty(), std::memory_order_release);
}

}  // namespace troupe
