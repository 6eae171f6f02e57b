// Graceful stop for server binaries: block SIGINT and SIGTERM in every thread (call before any
// thread starts, so none of them takes the signal), then wait for one on the main thread.
//
//   troupe::BlockStopSignals();        // first thing in main()
//   ... start the system and serve ...
//   int signal = troupe::WaitForStopSignal();
//
// Thread safety: BlockStopSignals from main before threads exist; WaitForStopSignal from one
// thread.
#ifndef FRAMEWORK_BASE_STOP_SIGNALS_H_
#define FRAMEWORK_BASE_STOP_SIGNALS_H_

#include <pthread.h>
#include <signal.h>

namespace troupe {

inline sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

inline void BlockStopSignals() {
  const sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// Returns the signal that arrived (SIGINT or SIGTERM).
inline int WaitForStopSignal() {
  const sigset_t set = StopSignals();
  int signal_number = 0;
  sigwait(&set, &signal_number);
  return signal_number;
}

}  // namespace troupe

#endif  // FRAMEWORK_BASE_STOP_SIGNALS_H_
