// IoService's parkers: a worker sleeps in its own backend (or, epoll with several workers, one
// of them in the shared reactor and the others on a futex), and spins before parking only
// while that backend has no sockets.
#include "io/io_service.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

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

// epoll with several workers: one reactor for all (shared_reactor, the default), its sockets'
// actors homed nowhere; with it off, one per worker, each its worker's home.
TEST(IoServiceTest, EpollWorkersShareOneReactorUnlessToldOtherwise) {
  auto shared = IoService::Create({.kind = IoBackendKind::kEpoll, .log_choice = false}, 2);
  ASSERT_THAT(shared, IsOk());
  IoBackend& first = (*shared)->NextBackend();
  EXPECT_EQ(&(*shared)->NextBackend(), &first);
  EXPECT_EQ(first.home_worker(), IoBackend::kAnyWorker);
  EXPECT_TRUE(first.shareable());
  auto per_worker = IoService::Create(
      {.kind = IoBackendKind::kEpoll, .log_choice = false, .shared_reactor = false}, 2);
  ASSERT_THAT(per_worker, IsOk());
  IoBackend& a = (*per_worker)->NextBackend();
  IoBackend& b = (*per_worker)->NextBackend();
  EXPECT_NE(&a, &b);
  EXPECT_EQ(a.home_worker() + b.home_worker(), 1);  // workers 0 and 1
}

// Workers sharing the reactor: one waits in it, the others on a futex; Unpark wakes each where
// it sleeps (a wake-up sent only to the reactor would leave the futex sleeper asleep, and the
// reverse the reactor's). Many rounds, so that both orders of arrival are seen.
TEST(IoServiceTest, UnparkWakesAWorkerWhereverItSleepsOnASharedReactor) {
  constexpr int kWorkers = 3;
  auto io = IoService::Create({.kind = IoBackendKind::kEpoll, .log_choice = false}, kWorkers);
  ASSERT_THAT(io, IsOk());
  std::vector<std::unique_ptr<Parker>> parkers;
  for (int i = 0; i < kWorkers; ++i) parkers.push_back((*io)->MakeParker(i));
  for (int round = 0; round < 200; ++round) {
    std::atomic<int> woken{0};
    std::vector<std::thread> workers;
    for (int i = 0; i < kWorkers; ++i) {
      workers.emplace_back([&, i] {
        parkers[i]->Park(absl::Seconds(30));
        woken.fetch_add(1);
      });
    }
    absl::SleepFor(absl::Microseconds(round % 10 * 50));  // parked by now, or still arriving
    for (auto& p : parkers) p->Unpark();
    const absl::Time end = absl::Now() + absl::Seconds(10);
    while (woken.load() < kWorkers && absl::Now() < end) absl::SleepFor(absl::Microseconds(50));
    ASSERT_EQ(woken.load(), kWorkers) << "round " << round << ": a worker slept on";
    for (auto& t : workers) t.join();
    for (auto& p : parkers) p->Park(absl::ZeroDuration());  // consume any wake-up left over
  }
}

// Shutdown on a shared reactor: the worker that took the seat is woken (Unpark: the backend's
// Wake()) before it enters the kernel wait, and another worker stopping meanwhile delivers the
// last completions. That one must not wait in the kernel itself: its wait would take the
// wake-up, and the worker in the seat would sleep on in its wait (a join that never returned,
// once in ~300 loaded runs of metrics_server_test under TSan).
TEST(IoServiceTest, AWorkerStoppingLeavesTheWakeUpToTheWorkerInTheSharedReactor) {
  auto io = IoService::Create({.kind = IoBackendKind::kEpoll, .log_choice = false}, 2);
  ASSERT_THAT(io, IsOk());
  IoBackend& backend = (*io)->NextBackend();
  std::unique_ptr<Parker> stopping = (*io)->MakeParker(1);
  backend.Wake();            // the seated worker's Unpark, before its wait
  stopping->OnWorkerStop();  // the other worker stops meanwhile
  std::atomic<bool> woken{false};
  std::thread seated([&] {  // the seated worker's wait
    backend.TakeHold();
    backend.Poll(absl::Seconds(60));
    backend.Release();
    woken = true;
  });
  const absl::Time end = absl::Now() + absl::Seconds(5);
  while (!woken.load() && absl::Now() < end) absl::SleepFor(absl::Microseconds(100));
  EXPECT_TRUE(woken.load()) << "the seated worker slept on: its wake-up was taken";
  if (!woken.load()) backend.Wake();  // let it go, to end the test
  seated.join();
}

// A socket that becomes readable wakes the worker waiting in the shared reactor, whichever
// worker that is, and its completion is delivered there.
TEST(IoServiceTest, ASocketWakesTheWorkerWaitingInTheSharedReactor) {
  auto io = IoService::Create({.kind = IoBackendKind::kEpoll, .log_choice = false}, 2);
  ASSERT_THAT(io, IsOk());
  struct Counting final : IoHandler {
    std::atomic<int> recvs{0};
    void OnCompletion(int, const Completion& c) override {
      if (c.op == IoOp::kRecv && c.result > 0) recvs.fetch_add(1);
    }
  } handler;
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  IoBackend& backend = (*io)->NextBackend();
  {
    IoBackend::Hold hold(backend);
    ASSERT_TRUE(hold);
    backend.Recv(fds[0], &handler);
    backend.Poll(absl::ZeroDuration());
  }
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<Parker>> parkers;
  for (int i = 0; i < 2; ++i) parkers.push_back((*io)->MakeParker(i));
  std::vector<std::thread> workers;
  for (int i = 0; i < 2; ++i) {
    workers.emplace_back([&, i] {
      while (!stop.load()) parkers[i]->Park(absl::Seconds(30));
    });
  }
  absl::SleepFor(absl::Milliseconds(20));  // both asleep: one in the reactor
  ASSERT_EQ(::write(fds[1], "x", 1), 1);
  const absl::Time end = absl::Now() + absl::Seconds(10);
  while (handler.recvs.load() == 0 && absl::Now() < end) absl::SleepFor(absl::Microseconds(50));
  EXPECT_EQ(handler.recvs.load(), 1);
  stop = true;
  for (auto& p : parkers) p->Unpark();
  for (auto& t : workers) t.join();
  IoBackend::Hold hold(backend);
  backend.Close(fds[0], &handler);
  for (int i = 0; i < 100 && backend.open_fds() > 0; ++i) backend.Poll(absl::Milliseconds(1));
  ::close(fds[1]);
}

}  // namespace
}  // namespace troupe
