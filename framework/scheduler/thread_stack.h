// CaptureThreadStack: the call stack of another thread of this process, symbolized - what the
// blocked-loop detector attaches to a stuck turn's report (TurnMonitorOptions::stuck_stack), so
// the report says where the handler is stuck, not only which one.
//
// How: the target thread is sent a real-time signal (SIGRTMIN+7) whose handler records its
// stack (glibc's backtrace(): libgcc's unwinder over the unwind tables, loaded before the first
// signal so that the handler neither loads nor allocates) into a static slot; the caller waits
// for it (up to `timeout`) and symbolizes the frames itself (absl::Symbolize, from the binary's
// symbol table). The handler records only on the thread the capture is for (a signal that
// reaches an earlier target late is ignored). It is installed once, by the first capture, with
// SA_RESTART: most system calls the target was blocked in resume, but some (poll, epoll_wait,
// select, nanosleep) return EINTR early - Abseil's and the C++ library's sleeps go back to
// sleep; code that treats EINTR as an error sees one. x86-64 Linux only (it reads the
// interrupted instruction from the signal context). A program that uses SIGRTMIN+7 itself must
// not capture.
//
// Thread safety: any thread; captures are serialized.
#ifndef FRAMEWORK_SCHEDULER_THREAD_STACK_H_
#define FRAMEWORK_SCHEDULER_THREAD_STACK_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace troupe {

// Innermost frame first, each a function name (or "0xADDRESS" where the binary has no symbol).
// DEADLINE_EXCEEDED if the thread did not answer within `timeout` (it may have exited, or be
// blocking signals); INTERNAL if the signal could not be sent.
// `tid`: the thread's kernel id (gettid()). An id that is gone fails with INTERNAL.
absl::StatusOr<std::vector<std::string>> CaptureThreadStack(pid_t tid, absl::Duration timeout);

}  // namespace troupe

#endif  // FRAMEWORK_SCHEDULER_THREAD_STACK_H_
