// Credit: a share of some bounded resource (bytes or messages not yet processed) that goes back
// to its CreditSink when the Credit is destroyed. Flow control rides on message lifetime: a
// message carries a Credit, so the credit returns once the message is handled, or dropped as a
// dead letter, whichever thread that happens on.
//
// Thread safety: a Credit is move-only and owned by one thread at a time; ReturnCredit may be
// called from any thread, so sinks must be thread-safe.
#ifndef FRAMEWORK_BASE_CREDIT_H_
#define FRAMEWORK_BASE_CREDIT_H_

#include <cstddef>
#include <memory>
#include <utility>

namespace troupe {

class CreditSink {
 public:
  virtual ~CreditSink() = default;
  virtual void ReturnCredit(size_t amount) = 0;
};

class Credit {
 public:
  Credit() = default;
  Credit(std::shared_ptr<CreditSink> sink, size_t amount)
      : sink_(std::move(sink)), amount_(amount) {}
  Credit(Credit&& other) noexcept
      : sink_(std::move(other.sink_)), amount_(std::exchange(other.amount_, 0)) {}
  Credit& operator=(Credit&& other) noexcept {
    if (this != &other) {
      Return();
      sink_ = std::move(other.sink_);
      amount_ = std::exchange(other.amount_, 0);
    }
    return *this;
  }
  ~Credit() { Return(); }

  // Gives the credit back now (e.g. a handler done with the bytes before it returns).
  void Return() {
    if (sink_) std::exchange(sink_, nullptr)->ReturnCredit(amount_);
  }

 private:
  std::shared_ptr<CreditSink> sink_;
  size_t amount_ = 0;
};

}  // namespace troupe

#endif  // FRAMEWORK_BASE_CREDIT_H_
