// Choosing an IoBackend: `epoll`, `uring` or `auto`, in one place.
//
//   auto  -> io_uring if ProbeProactor() succeeds here, else epoll (the choice and the reason
//            are printed once to stderr);
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
