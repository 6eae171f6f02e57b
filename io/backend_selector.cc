#include "io/backend_selector.h"

#include <atomic>
#include <cstdio>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "io/reactor/reactor_backend.h"
#include "framework/log/log.h"

namespace troupe {

absl::StatusOr<IoBackendKind> ParseIoBackendKind(std::string_view text) {
  if (text == "epoll") return IoBackendKind::kEpoll;
  if (text == "uring") return IoBackendKind::kUring;
  if (text == "auto") return IoBackendKind::kAuto;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown I/O backend '", std::string(text), "': use epoll, uring or auto"));
}

std::string_view IoBackendKindName(IoBackendKind kind) {
  switch (kind) {
    case IoBackendKind::kEpoll:
      return "epoll";
    case IoBackendKind::kUring:
      return "uring";
    case IoBackendKind::kNone:
      return "none";
    case IoBackendKind::kAuto:
      break;
  }
  return "auto";
}

bool AbslParseFlag(absl::string_view text, IoBackendKind* kind, std::string* error) {
  auto parsed = ParseIoBackendKind(std::string_view(text.data(), text.size()));
  if (!parsed.ok() || *parsed == IoBackendKind::kNone) {
    *error = "use epoll, uring or auto";
    return false;
  }
  *kind = *parsed;
  return true;
}

std::string AbslUnparseFlag(IoBackendKind kind) { return std::string(IoBackendKindName(kind)); }

absl::StatusOr<IoBackendKind> ResolveIoBackendKind(const IoBackendOptions& options) {
  static std::atomic<bool> logged{false};  // the auto choice is printed once per process
  if (options.kind == IoBackendKind::kEpoll || options.kind == IoBackendKind::kNone) {
    return options.kind;
  }
  // The kernel does not change under us: probe once per process (a ring set up and torn down).
  static const absl::Status real_probe = ProbeProactor();
  const absl::Status probe =
      options.fake_uring_probe.has_value() ? *options.fake_uring_probe : real_probe;
  if (probe.ok()) {
    if (options.kind == IoBackendKind::kAuto && options.log_choice && !logged.exchange(true)) {
      Log(absl::LogSeverity::kInfo, "I/O backend io_uring (auto)");
    }
    return IoBackendKind::kUring;
  }
  if (options.kind == IoBackendKind::kUring) {
    return absl::UnimplementedError(absl::StrCat(
        "--backend=uring: io_uring is unavailable here: ", std::string(probe.message()),
        "; use --backend=epoll or --backend=auto"));
  }
  if (options.log_choice && !logged.exchange(true)) {
    Log(absl::LogSeverity::kInfo, "I/O backend epoll (auto: io_uring unavailable)", {{"why", probe.message()}});
  }
  return IoBackendKind::kEpoll;
}

absl::StatusOr<std::unique_ptr<IoBackend>> MakeIoBackend(IoBackendKind resolved,
                                                         const IoBackendOptions& options) {
  if (resolved == IoBackendKind::kUring) {
    auto backend = ProactorBackend::Create(options.proactor);
    if (!backend.ok()) return backend.status();
    return std::unique_ptr<IoBackend>(std::move(*backend));
  }
  if (resolved == IoBackendKind::kEpoll) {
    auto backend = ReactorBackend::Create();
    if (!backend.ok()) return backend.status();
    return std::unique_ptr<IoBackend>(std::move(*backend));
  }
  return absl::InvalidArgumentError("MakeIoBackend needs a resolved kind (epoll or uring)");
}

}  // namespace troupe
