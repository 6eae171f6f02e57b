#include "actors/tcp/tcp_connect.h"

#include "absl/strings/str_cat.h"
#include "actors/tcp/stream_core.h"

namespace troupe::internal {

absl::StatusOr<TcpStream> ConnectTcpWith(ActorSystem& system, const SocketAddress& to,
                                         std::unique_ptr<StreamEvents> events,
                                         TcpStreamOptions options, absl::Duration timeout) {
  if (system.io() == nullptr) {
    return absl::FailedPreconditionError("the ActorSystem was created without an I/O layer");
  }
  IoBackend& backend = system.io()->BackendForNewSocket();
  absl::StatusOr<int> fd = backend.NewSocket(to.family());
  if (!fd.ok()) return fd.status();
  std::shared_ptr<StreamCore> core = StreamCore::Create(backend, system.scheduler(), *fd, options, nullptr);
  core->Run([core, to, events = std::move(events)]() mutable {
    core->ConnectOnOwner(to, std::move(events));
  });
  std::weak_ptr<StreamCore> weak = core;
  system.scheduler().AddTimer(
      system.scheduler().Now() + timeout, absl::ZeroDuration(), [weak, to, timeout] {
        auto core = weak.lock();
        if (!core) return;
        core->Run([core, to, timeout] {
          core->ExpireConnect(absl::DeadlineExceededError(
              absl::StrCat("connect ", to.ToString(), ": no connection within ",
                           absl::FormatDuration(timeout))));
        });
      });
  return TcpStream(std::move(core));
}

}  // namespace troupe::internal
