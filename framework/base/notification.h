// Notification: a one-shot event one thread signals and others wait for (with a timeout).
// Like absl::Notification, but on std::mutex so ThreadSanitizer sees it (see mutex.h).
//
// Thread safety: all methods from any thread. Notify() at most once.
#ifndef FRAMEWORK_BASE_NOTIFICATION_H_
#define FRAMEWORK_BASE_NOTIFICATION_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/time/time.h"

namespace troupe {

class Notification {
 public:
  void Notify() {
    std::lock_guard<std::mutex> lock(mu_);
    notified_ = true;
    cv_.notify_all();
  }
  bool HasBeenNotified() const {
    std::lock_guard<std::mutex> lock(mu_);
    return notified_;
  }
  void WaitForNotification() const {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return notified_; });
  }
  // True if notified within `timeout`.
  bool WaitForNotificationWithTimeout(absl::Duration timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [this] { return notified_; });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool notified_ = false;
};

}  // namespace troupe

#endif  // FRAMEWORK_BASE_NOTIFICATION_H_
