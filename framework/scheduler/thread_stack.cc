#include "framework/scheduler/thread_stack.h"

#include <execinfo.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <ucontext.h>

#include <atomic>
#include <cstring>
#include <mutex>

#include "absl/debugging/symbolize.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace troupe {
namespace {

constexpr int kMaxFrames = 64;

// The one capture in flight: kIdle -> kArmed (caller) -> kWriting (handler) -> kDone (handler)
// -> kIdle (caller). A caller that gives up disarms kArmed -> kIdle; a handler that comes late
// then finds nothing armed and records nothing.
enum State : int { kIdle, kArmed, kWriting, kDone };
std::atomic<int> g_state{kIdle};
std::atomic<pid_t> g_target{0};  // the thread the armed capture is for
void* g_frames[kMaxFrames];
int g_depth = 0;

int StackSignal() { return SIGRTMIN + 7; }

void OnStackSignal(int, siginfo_t*, void* context) {
  const int saved_errno = errno;
  int expected = kArmed;
  if (static_cast<pid_t>(syscall(SYS_gettid)) == g_target.load(std::memory_order_acquire) &&
      g_state.compare_exchange_strong(expected, kWriting, std::memory_order_acq_rel)) {
    // glibc's backtrace() unwinds by the binary's unwind tables (libgcc), through the signal
    // frame, and so also sees the caller of a function interrupted in its prologue or built
    // without frame pointers. Its frames start with this handler's: begin at the interrupted
    // instruction.
    const auto* uc = static_cast<const ucontext_t*>(context);
    void* const pc = reinterpret_cast<void*>(uc->uc_mcontext.gregs[REG_RIP]);
    const int depth = backtrace(g_frames, kMaxFrames);
    int first = 0;
    while (first < depth && g_frames[first] != pc) ++first;
    if (first == depth) {  // not found: keep what there is, the interrupted pc first
      g_frames[0] = pc;
      g_depth = depth > 0 ? depth : 1;
    } else {
      for (int i = first; i < depth; ++i) g_frames[i - first] = g_frames[i];
      g_depth = depth - first;
    }
    g_state.store(kDone, std::memory_order_release);
  }
  errno = saved_errno;
}

std::mutex& CaptureMutex() {
  static std::mutex* mu = new std::mutex;
  return *mu;
}

void InstallHandlerOnce() {
  static const bool installed = [] {
    // The first backtrace() loads libgcc's unwinder (dlopen, malloc): do it here, not in the
    // signal handler, where neither is safe.
    void* warm[1];
    (void)backtrace(warm, 1);
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = OnStackSignal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(StackSignal(), &sa, nullptr) == 0;
  }();
  (void)installed;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> CaptureThreadStack(pid_t tid, absl::Duration timeout) {
  std::lock_guard<std::mutex> lock(CaptureMutex());
  InstallHandlerOnce();
  g_target.store(tid, std::memory_order_release);
  g_state.store(kArmed, std::memory_order_release);
  // tgkill, not pthread_kill: a thread that has exited is an error here, not undefined.
  if (syscall(SYS_tgkill, getpid(), tid, StackSignal()) != 0) {
    const int e = errno;
    g_state.store(kIdle, std::memory_order_release);
    return absl::InternalError(absl::StrCat("cannot signal thread ", tid, ": ", std::strerror(e)));
  }
  const absl::Time deadline = absl::Now() + timeout;
  while (g_state.load(std::memory_order_acquire) != kDone) {
    int expected = kArmed;
    if (absl::Now() >= deadline &&
        g_state.compare_exchange_strong(expected, kIdle, std::memory_order_acq_rel)) {
      return absl::DeadlineExceededError("the thread did not record its stack in time");
    }
    absl::SleepFor(absl::Microseconds(200));  // kWriting: the handler is nearly done
  }
  std::vector<std::string> frames;
  frames.reserve(g_depth);
  for (int i = 0; i < g_depth; ++i) {
    char name[512];
    if (absl::Symbolize(g_frames[i], name, sizeof(name))) {
      frames.emplace_back(name);
    } else {
      frames.push_back(absl::StrCat("0x", absl::Hex(reinterpret_cast<uintptr_t>(g_frames[i]))));
    }
  }
  g_state.store(kIdle, std::memory_order_release);
  return frames;
}

}  // namespace troupe
