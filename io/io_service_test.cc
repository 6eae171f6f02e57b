// IoService's parkers: a worker sleeps in its own backend, and spins before parking only while
// that backend has no sockets.
#include "io/io_service.h"

#include <sys/socket.h>
#include <unistd.h>

#include "framework/base/status_matchers.h"
#include "gtest/gtest.h"

namespace troupe {
namespace {

using ::troupe::testing::IsOk;

struct NoHandler final : IoHandler {
  void OnCompletion(int, const Completion&) override {}
};

// Spinning before parking pays for message passing between workers (no futex wake-up) but
// costs a worker with sockets CPU that its peers need (bench/echo_compare, 2 threads); such a
// worker waits in the kernel, where the sockets wake it.
TEST(IoServiceTest, AWorkerSpinsBeforeParkingOnlyWhileItsBackendHasNoSockets) {
  for (IoBackendKind kind : {IoBackendKind::kEpoll, IoBackendKind::kUring}) {
    auto io = IoService::Create({.kind = kind, .log_choice = false}, 1);
    if (!io.ok() && kind == IoBackendKind::kUring) continue;  // io_uring unavailable here
    ASSERT_THAT(io, IsOk());
    std::unique_ptr<Parker> parker = (*io)->MakeParker(0);
    parker->OnWorkerStart();  // this thread is the worker: it owns backend 0
    EXPECT_TRUE(parker->SpinBeforePark());
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    NoHandler handler;
    IoBackend& backend = (*io)->BackendForNewSocket();
    backend.Recv(fds[0], &handler);
    EXPECT_FALSE(parker->SpinBeforePark()) << backend.name();
    backend.Close(fds[0], &handler);
    for (int i = 0; i < 100 && backend.open_fds() > 0; ++i) backend.Poll(absl::Milliseconds(1));
    EXPECT_TRUE(parker->SpinBeforePark()) << backend.name();
    ::close(fds[1]);
    parker->OnWorkerStop();
  }
}

}  // namespace
}  // namespace troupe
