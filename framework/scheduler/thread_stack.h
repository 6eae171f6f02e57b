// CaptureThreadStack: the call stack of another thread of this process, symbolized - what the
// blocked-loop detector attaches to a stuck turn's report (TurnMonitorOptions::stuck_stack), so
// the report says where the handler is stuck, not only which one.
//
// How: the target thread is sent a real-time signal (SIGRTMIN+7) whose handler records its
// stack (glibc's backtrace(): libgcc's unwinder over the unwind tables, loaded before the first
// signal so that the handler neither loads nor allocates) into a static slot; the caller waits
// for it (up to `timeout`) and symbolizes the frames itself (absl::Symbolize, from the binary's
// symbol table). The handler is installed once, by the first capture, with SA_RESTART: a system call
// the target was blocked in resumes (or, for sleeps, returns early with EINTR - Abseil's and
// the C++ library's sleeps resume). A program that uses SIGRTMIN+7 itself must not capture.
//
// Thread safety: any thread; captures are serialized.
#ifndef FRAMEWORK_SCHEDULER_THREAD_STACK_H_
#define FRAMEWORK_SCHEDULER_THREAD_STACK_H_

#include <pthread.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace troupe {

// Innermost frame first, each a function name (or "0xADDRESS" where the binary has no symbol).
// DEADLINE_EXCEEDED if the thread did not answer within `timeout` (it may have exited, or be
// blocking signals); INTERNAL if the signal could not be sent.
absl::StatusOr<std::vector<std::string>> CaptureThreadStack(pthread_t thread,
                                                            absl::Duration timeout);

}  // namespace troupe

#endif  // FRAMEWORK_SCHEDULER_THREAD_STACK_H_
