// Savina-style actor benchmarks on troupe. //bench:savina_caf runs the same workloads on CAF
// 0.17; bench/compare runs both side by side and prints the ratio table in the README.
//
//   bazel run -c opt //bench:savina -- --bench=all --threads=2
//
// One line per workload and repetition: NAME n=N threads=T seconds=S msgs_per_s=X.
// Timing starts after every actor is spawned, just before the first message is sent (for
// `create`, spawning is what is timed), and ends when the main thread learns of completion.
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/savina_driver.h"
#include "framework/base/notification.h"
#include "framework/record/recorder.h"
#include "framework/system/actor_system.h"

ABSL_FLAG(std::string, io, "auto",
          "the workers' I/O layer: auto, epoll, uring, or none (park on a futex)");
ABSL_FLAG(bool, turn_timing, true,
          "time every turn (metrics, blocked-loop detector); false: the A/B's other side");
ABSL_FLAG(bool, record, false,
          "record the run (framework/record: the recorder's cost; the recording is dropped)");
ABSL_FLAG(int, spin_us, 50, "how long an idle worker spins before parking (ActorSystemOptions)");

namespace troupe::bench {
namespace {

struct Go {};

// ---------------------------------------------------------------- pingpong
struct Ball {
  int64_t remaining;  // round trips still to play
};
using PongProtocol = Protocol<Ball>;
using PingProtocol = Protocol<Go, Ball>;

class Pong : public Actor<Pong, PongProtocol> {
 public:
  explicit Pong(ActorRef<PingProtocol>* ping) : ping_(ping) {}
  void Handle(Ball b) { ping_->Tell(b); }

 private:
  ActorRef<PingProtocol>* ping_;  // set before the first ball
};

class Ping : public Actor<Ping, PingProtocol> {
 public:
  Ping(ActorRef<PongProtocol> pong, int64_t round_trips, Notification* done)
      : pong_(std::move(pong)), round_trips_(round_trips), done_(done) {}
  void Handle(Go) { pong_.Tell(Ball{round_trips_ - 1}); }
  void Handle(Ball b) {
    if (b.remaining == 0) {
      done_->Notify();
      return;
    }
    pong_.Tell(Ball{b.remaining - 1});
  }

 private:
  ActorRef<PongProtocol> pong_;
  int64_t round_trips_;
  Notification* done_;
};

double PingPong(ActorSystem& system, int64_t n) {
  Notification done;
  ActorRef<PingProtocol> ping_ref;
  auto pong = system.Spawn<Pong>(&ping_ref).value();
  ping_ref = system.Spawn<Ping>(pong, n / 2, &done).value();
  absl::SleepFor(absl::Milliseconds(20));  // let the start hooks run (as in the CAF peer)
  const absl::Time start = absl::Now();
  ping_ref.Tell(Go{});
  done.WaitForNotification();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  ping_ref.Stop();
  pong.Stop();
  return seconds;
}

// ---------------------------------------------------------------- ring
struct Token {
  int64_t hops_left;
};
struct Next;
using RingProtocol = Protocol<Token, Next>;
struct Next {
  ActorRef<RingProtocol> next;
};

class RingNode : public Actor<RingNode, RingProtocol> {
 public:
  explicit RingNode(Notification* done) : done_(done) {}
  void Handle(Next n) { next_ = std::move(n.next); }
  void Handle(Token t) {
    if (t.hops_left == 0) {
      done_->Notify();
      return;
    }
    next_.Tell(Token{t.hops_left - 1});
  }

 private:
  ActorRef<RingProtocol> next_;
  Notification* done_;
};

double Ring(ActorSystem& system, int64_t n) {
  constexpr int kNodes = 503;
  Notification done;
  std::vector<ActorRef<RingProtocol>> nodes;
  for (int i = 0; i < kNodes; ++i) nodes.push_back(system.Spawn<RingNode>(&done).value());
  for (int i = 0; i < kNodes; ++i) nodes[i].Tell(Next{nodes[(i + 1) % kNodes]});
  absl::SleepFor(absl::Milliseconds(20));  // let the wiring messages land
  const absl::Time start = absl::Now();
  nodes[0].Tell(Token{n - 1});  // the first delivery counts as a hop
  done.WaitForNotification();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  for (auto& node : nodes) node.Stop();
  return seconds;
}

// ---------------------------------------------------------------- fanin
struct Item {
  int64_t value;
};
using ReceiverProtocol = Protocol<Item>;

class Receiver : public Actor<Receiver, ReceiverProtocol> {
 public:
  Receiver(int64_t expected, Notification* done) : expected_(expected), done_(done) {}
  void Handle(Item i) {
    sum_ += i.value;
    if (++count_ == expected_) done_->Notify();
  }

 private:
  int64_t expected_, count_ = 0, sum_ = 0;
  Notification* done_;
};

using ProducerProtocol = Protocol<Go>;
class Producer : public Actor<Producer, ProducerProtocol> {
 public:
  Producer(ActorRef<ReceiverProtocol> receiver, int64_t count)
      : receiver_(std::move(receiver)), count_(count) {}
  void Handle(Go) {
    for (int64_t i = 0; i < count_; ++i) receiver_.Tell(Item{i});
  }

 private:
  ActorRef<ReceiverProtocol> receiver_;
  int64_t count_;
};

double FanIn(ActorSystem& system, int64_t n) {
  constexpr int kProducers = 100;
  const int64_t per = n / kProducers;
  Notification done;
  auto receiver = system.Spawn<Receiver>(per * kProducers, &done).value();
  std::vector<ActorRef<ProducerProtocol>> producers;
  for (int i = 0; i < kProducers; ++i)
    producers.push_back(system.Spawn<Producer>(receiver, per).value());
  absl::SleepFor(absl::Milliseconds(20));
  const absl::Time start = absl::Now();
  for (auto& p : producers) p.Tell(Go{});
  done.WaitForNotification();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  receiver.Stop();
  for (auto& p : producers) p.Stop();
  return seconds;
}

// ---------------------------------------------------------------- fjthrput
struct Job {
  int64_t value;
};
struct WorkerDone {};
using DriverProtocol = Protocol<Go, WorkerDone>;
using FjWorkerProtocol = Protocol<Job>;

class FjWorker : public Actor<FjWorker, FjWorkerProtocol> {
 public:
  FjWorker(int64_t share, ActorRef<DriverProtocol>* driver) : share_(share), driver_(driver) {}
  void Handle(Job j) {
    const double x = static_cast<double>(j.value);
    acc_ += std::sqrt(x) * std::sin(x);
    if (++count_ == share_) driver_->Tell(WorkerDone{});
  }
  ~FjWorker() override {
    if (acc_ == 12345.678) std::fprintf(stderr, "unlikely\n");  // keeps acc_ observable
  }

 private:
  int64_t share_, count_ = 0;
  double acc_ = 0;
  ActorRef<DriverProtocol>* driver_;
};

class Driver : public Actor<Driver, DriverProtocol> {
 public:
  Driver(std::vector<ActorRef<FjWorkerProtocol>> workers, int64_t n, Notification* done)
      : workers_(std::move(workers)), n_(n), done_(done) {}
  void Handle(Go) {
    const size_t k = workers_.size();
    for (int64_t i = 0; i < n_; ++i) workers_[i % k].Tell(Job{i});
  }
  void Handle(WorkerDone) {
    if (++finished_ == static_cast<int>(workers_.size())) done_->Notify();
  }

 private:
  std::vector<ActorRef<FjWorkerProtocol>> workers_;
  int64_t n_;
  int finished_ = 0;
  Notification* done_;
};

double FjThrput(ActorSystem& system, int64_t n) {
  constexpr int kWorkers = 60;
  const int64_t per = n / kWorkers;
  Notification done;
  ActorRef<DriverProtocol> driver;
  std::vector<ActorRef<FjWorkerProtocol>> workers;
  for (int i = 0; i < kWorkers; ++i)
    workers.push_back(system.Spawn<FjWorker>(per, &driver).value());
  driver = system.Spawn<Driver>(workers, per * kWorkers, &done).value();
  absl::SleepFor(absl::Milliseconds(20));
  const absl::Time start = absl::Now();
  driver.Tell(Go{});
  done.WaitForNotification();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  driver.Stop();
  for (auto& w : workers) w.Stop();
  return seconds;
}

// ---------------------------------------------------------------- create
struct Hello {};
using OneShotProtocol = Protocol<Hello>;

class OneShot : public Actor<OneShot, OneShotProtocol> {
 public:
  OneShot(std::atomic<int64_t>* counter, int64_t n, Notification* done)
      : counter_(counter), n_(n), done_(done) {}
  void Handle(Hello) {
    if (counter_->fetch_add(1, std::memory_order_acq_rel) + 1 == n_) done_->Notify();
    ctx().Stop();
  }

 private:
  std::atomic<int64_t>* counter_;
  int64_t n_;
  Notification* done_;
};

using CreatorProtocol = Protocol<Go>;
class Creator : public Actor<Creator, CreatorProtocol> {
 public:
  Creator(int64_t n, std::atomic<int64_t>* counter, Notification* done)
      : n_(n), counter_(counter), done_(done) {}
  void Handle(Go) {
    for (int64_t i = 0; i < n_; ++i) {
      ctx().Spawn<OneShot>(counter_, n_, done_).value().Tell(Hello{});
    }
  }

 private:
  int64_t n_;
  std::atomic<int64_t>* counter_;
  Notification* done_;
};

double Create(ActorSystem& system, int64_t n) {
  Notification done;
  std::atomic<int64_t> counter{0};
  auto creator = system.Spawn<Creator>(n, &counter, &done).value();
  absl::SleepFor(absl::Milliseconds(20));
  const absl::Time start = absl::Now();
  creator.Tell(Go{});
  done.WaitForNotification();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  creator.Stop();
  return seconds;
}

double RunOnce(std::string_view name, int64_t n, int threads) {
  ActorSystemOptions options{
      .threads = threads,
      .max_actors = static_cast<size_t>(n) + 1000,  // create spawns n at once
      .spin_before_park = absl::Microseconds(absl::GetFlag(FLAGS_spin_us)),
      .turn_timing = absl::GetFlag(FLAGS_turn_timing)};
  const std::string io = absl::GetFlag(FLAGS_io);
  options.io.kind = io == "none" ? IoBackendKind::kNone : ParseIoBackendKind(io).value();
  options.io.log_choice = false;
  if (absl::GetFlag(FLAGS_record)) options.recorder = std::make_shared<Recorder>();
  ActorSystem system(options);
  double seconds = 0;
  if (name == "pingpong") seconds = PingPong(system, n);
  if (name == "ring") seconds = Ring(system, n);
  if (name == "fanin") seconds = FanIn(system, n);
  if (name == "fjthrput") seconds = FjThrput(system, n);
  if (name == "create") seconds = Create(system, n);
  if (getenv("TROUPE_BENCH_STATS") != nullptr) {
    const SchedulerStats st = system.stats().scheduler;
    std::fprintf(stderr,
                 "  turns=%llu lifo=%llu steals=%llu stolen=%llu injected=%llu parks=%llu\n",
                 (unsigned long long)st.turns, (unsigned long long)st.lifo_turns,
                 (unsigned long long)st.steals, (unsigned long long)st.stolen,
                 (unsigned long long)st.injected, (unsigned long long)st.parks);
  }
  return seconds;
}

}  // namespace
}  // namespace troupe::bench

int main(int argc, char** argv) {
  return troupe::bench::RunSavina(argc, argv, "troupe", &troupe::bench::RunOnce);
}
