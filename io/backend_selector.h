// Choosing an IoBackend: `epoll`, `uring` or `auto`, in one place.
//
//   auto  -> io_uring if ProbeProactor() succeeds here, else epoll (the choice and the reason
//            are printed once to stderr); IoService makes it epoll without probing when
//            several workers share one reactor (IoBackendOptions::shared_reactor);
//   uring -> io_uring, or UNIMPLEMENTED saying why it is unavailable (no fallback);
//   epoll -> epoll, without touching io_uring at all: the way to run where an unknown syscall
//            kills the process (strict seccomp sandboxes).
//
// Thread safety: free functions, callable from any thread.
#ifndef IO_BACKEND_SELECTOR_H_
#define IO_BACKEND_SELECTOR_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "io/backend.h"
#include "io/proactor/proactor_backend.h"

namespace troupe {

// kNone: no I/O layer (workers park on a futex); for systems that never touch a socket.
enum class IoBackendKind { kAuto, kEpoll, kUring, kNone };

struct IoBackendOptions {
  IoBackendKind kind = IoBackendKind::kAuto;
  ProactorOptions proactor;
  // Tests: pretend the io_uring probe returned this status (e.g. UNIMPLEMENTED).
  std::optional<absl::Status> fake_uring_probe;
  bool log_choice = true;  // print which backend `auto` chose, and why
  // epoll with more than one worker: one reactor (one epoll set) driven by every worker - one
  // at a time waits in it, the others sleep on a futex until work or that wait wakes them, and
  // a connection's actor runs on whichever worker is free, as with Asio's io_context run by
  // several threads or tokio's I/O driver. false: a reactor per worker, each connection's actor
  // homed on its socket's worker, a stalled worker's sockets served by take-overs
  // (ActorSystemOptions::take_over_after). Shared, a socket waits for no particular worker:
  // bench/echo_compare's 2-worker p99 (README). io_uring is always a ring per worker.
  bool shared_reactor = true;
  // Makes worker i's backend instead (once per worker, at start-up): a FaultInjectingBackend
  // around a real one (io/testing), so a test can give a whole system the faults it injects.
  // `kind` is then not resolved (nor io_uring probed); an error fails the system's start.
  std::function<absl::StatusOr<std::unique_ptr<IoBackend>>(int worker)> factory;
};

// "epoll", "uring", "auto"; INVALID_ARGUMENT (listing the valid values) otherwise.
absl::StatusOr<IoBackendKind> ParseIoBackendKind(std::string_view text);
std::string_view IoBackendKindName(IoBackendKind kind);

// Abseil flag support: ABSL_FLAG(troupe::IoBackendKind, backend, ...) parses epoll|uring|auto.
bool AbslParseFlag(absl::string_view text, IoBackendKind* kind, std::string* error);
std::string AbslUnparseFlag(IoBackendKind kind);

// Resolves kAuto by probing (once per process; kEpoll and kNone never probe); returns the
// kind to run, or UNIMPLEMENTED (saying why) for kUring where io_uring is unavailable.
absl::StatusOr<IoBackendKind> ResolveIoBackendKind(const IoBackendOptions& options);

// Creates a backend of a resolved kind (kEpoll or kUring).
absl::StatusOr<std::unique_ptr<IoBackend>> MakeIoBackend(IoBackendKind resolved,
                                                         const IoBackendOptions& options);

}  // namespace troupe

#endif  // IO_BACKEND_SELECTOR_H_
