// Mutex and MutexLock: a std::mutex with Abseil's thread-safety annotations.
//
// Why not absl::Mutex: Debian's Abseil is not built with ThreadSanitizer, so TSan cannot see
// absl::Mutex's synchronization and reports false races on everything it guards. std::mutex
// goes through pthread, which TSan intercepts. Use this for all locking in troupe's own code.
//
// Thread safety: as std::mutex.
#ifndef FRAMEWORK_BASE_MUTEX_H_
#define FRAMEWORK_BASE_MUTEX_H_

#include <mutex>

#include "absl/base/thread_annotations.h"

namespace troupe {

class ABSL_LOCKABLE Mutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace troupe

#endif  // FRAMEWORK_BASE_MUTEX_H_
