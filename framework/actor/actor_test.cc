// Actor lifecycle, messaging, dead letters and names, on the deterministic scheduler.
#include "framework/actor/actor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "framework/base/status_matchers.h"
#include "framework/system/actor_system.h"
#include "framework/testing/test_system.h"

namespace troupe {
namespace {

using ::testing::ElementsAre;
using ::troupe::testing::IsOk;
using ::troupe::testing::StatusIs;
using ::troupe::testing::TestSystem;

// A shared journal the test reads after running the actors.
using Journal = std::vector<std::string>;

struct Note {
  std::string text;
};
struct Crash {};
struct SpawnChild {
  std::string name;
};
struct StopFirstChild {};
using RecorderProtocol = Protocol<Note, Crash, SpawnChild, StopFirstChild>;

class Recorder : public Actor<Recorder, RecorderProtocol> {
 public:
  Recorder(std::string name, Journal* journal) : name_(std::move(name)), journal_(journal) {}
  ~Recorder() override { journal_->push_back(name_ + ":destroyed"); }

  void Handle(Note n) { journal_->push_back(name_ + ":" + n.text); }
  void Handle(Crash) { throw std::runtime_error("boom"); }
  void Handle(SpawnChild c) {
    auto child = ctx().Spawn<Recorder>(c.name, journal_);
    ASSERT_TRUE(child.ok());
    children_.push_back(*child);
  }
  void Handle(StopFirstChild) { children_.front().Stop(); }

 private:
  void OnStart() override { journal_->push_back(name_ + ":start"); }
  void OnStop() override { journal_->push_back(name_ + ":stop"); }

  std::string name_;
  Journal* journal_;
  std::vector<ActorRef<RecorderProtocol>> children_;
};

TEST(ActorTest, StartHandleStopInOrder) {
  Journal journal;
  TestSystem t;
  auto a = t.system().Spawn<Recorder>("a", &journal);
  ASSERT_THAT(a, IsOk());
  a->Tell(Note{"one"});
  a->Tell(Note{"two"});
  t.RunUntilIdle();
  a->Stop();
  t.RunUntilIdle();
  EXPECT_THAT(journal, ElementsAre("a:start", "a:one", "a:two", "a:stop", "a:destroyed"));
  EXPECT_TRUE(a->stopped());
  EXPECT_EQ(t.system().stats().live_actors, 0u);
}

TEST(ActorTest, StopOvertakesQueuedMessagesWhichBecomeDeadLetters) {
  Journal journal;
  TestSystem t;
  auto a = t.system().Spawn<Recorder>("a", &journal).value();
  t.RunUntilIdle();
  a.Tell(Note{"late1"});
  a.Tell(Note{"late2"});
  a.Stop();
  t.RunUntilIdle();
  EXPECT_THAT(journal, ElementsAre("a:start", "a:stop", "a:destroyed"));
  EXPECT_EQ(t.system().dead_letters().count(), 2u);
}

TEST(ActorTest, SendingToAStoppedActorIsCountedAndObservable) {
  Journal journal;
  TestSystem t;
  std::vector<DeadLetter> seen;
  t.system().dead_letters().AddObserver([&](const DeadLetter& d) { seen.push_back(d); });
  auto a = t.system().Spawn<Recorder>("a", &journal).value();
  a.Stop();
  t.RunUntilIdle();
  a.Tell(Note{"nobody home"});
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].target_id, a.id());
  EXPECT_EQ(seen[0].reason, DeadLetterReason::kStopped);
  EXPECT_EQ(seen[0].message_type, "{anonymous}::Note");
  EXPECT_EQ(t.system().dead_letters().count(), 1u);
}

// Hands out a callback (as a library would be given one) that notes its argument on this actor.
struct GiveCallback {};
class CallbackOwner
    : public Actor<CallbackOwner, Protocol<Request<GiveCallback, std::function<void(std::string)>>>> {
 public:
  explicit CallbackOwner(Journal* journal) : journal_(journal) {}
  std::function<void(std::string)> Handle(GiveCallback) {
    return ctx().Callback([this](std::string text) {
      journal_->push_back(absl::StrCat(text, ctx().id() != 0 ? " on the actor" : ""));
    });
  }

 private:
  Journal* journal_;
};

TEST(ActorTest, ACallbackRunsOnItsActorFromAnyThreadAndNotAfterItStopped) {
  Journal journal;
  TestSystem t;
  auto a = t.system().Spawn<CallbackOwner>(&journal).value();
  auto callback = t.system().Ask(a, GiveCallback{}, absl::Seconds(5));
  t.RunUntilIdle();
  std::function<void(std::string)> fn = callback.get().value();
  std::thread other([&] { fn("from a thread"); });
  other.join();
  EXPECT_THAT(journal, ElementsAre());  // queued as a message, not run on the caller's thread
  t.RunUntilIdle();
  EXPECT_THAT(journal, ElementsAre("from a thread on the actor"));
  a.Stop();
  t.RunUntilIdle();
  fn("too late");
  t.RunUntilIdle();
  EXPECT_THAT(journal, ElementsAre("from a thread on the actor"));
}

TEST(ActorTest, EmptyRefCountsUnaddressedMessages) {
  ActorRef<RecorderProtocol> empty;
  const uint64_t before = UnaddressedCount();
  empty.Tell(Note{"void"});
  empty.Stop();  // harmless
  EXPECT_EQ(UnaddressedCount(), before + 1);
  EXPECT_FALSE(empty);
  EXPECT_EQ(empty.id(), 0u);
}

TEST(ActorTest, ChildrenStopWithTheirParent) {
  Journal journal;
  TestSystem t;
  auto parent = t.system().Spawn<Recorder>("parent", &journal).value();
  parent.Tell(SpawnChild{"c1"});
  parent.Tell(SpawnChild{"c2"});
  t.RunUntilIdle();
  EXPECT_EQ(t.system().stats().live_actors, 3u);
  parent.Stop();
  t.RunUntilIdle();
  EXPECT_EQ(t.system().stats().live_actors, 0u);
  for (const char* event :
       {"c1:stop", "c2:stop", "parent:stop", "c1:destroyed", "c2:destroyed", "parent:destroyed"}) {
    EXPECT_THAT(journal, ::testing::Contains(event));
  }
}

TEST(ActorTest, AChildThatStopsIsForgottenByItsParent) {
  Journal journal;
  TestSystem t;
  auto parent = t.system().Spawn<Recorder>("parent", &journal).value();
  parent.Tell(SpawnChild{"c"});
  t.RunUntilIdle();
  EXPECT_EQ(t.system().stats().live_actors, 2u);
  parent.Tell(StopFirstChild{});
  t.RunUntilIdle();
  EXPECT_EQ(t.system().stats().live_actors, 1u);
  EXPECT_THAT(journal, ::testing::Contains("c:destroyed"));
  EXPECT_FALSE(parent.stopped());
  parent.Stop();  // must not stop (or release) the already-stopped child twice
  t.RunUntilIdle();
  EXPECT_EQ(t.system().stats().live_actors, 0u);
}

TEST(ActorTest, AThrowingHandlerStopsOnlyItsActor) {
  Journal journal;
  TestSystem t;
  auto a = t.system().Spawn<Recorder>("a", &journal).value();
  auto b = t.system().Spawn<Recorder>("b", &journal).value();
  a.Tell(Crash{});
  a.Tell(Note{"after crash"});
  b.Tell(Note{"fine"});
  t.RunUntilIdle();
  EXPECT_TRUE(a.stopped());
  EXPECT_FALSE(b.stopped());
  EXPECT_EQ(t.system().stats().failures, 1u);
  EXPECT_EQ(t.system().dead_letters().count(), 1u);  // "after crash"
  EXPECT_THAT(journal, ::testing::Contains("b:fine"));
  EXPECT_THAT(journal, ::testing::Not(::testing::Contains("a:after crash")));
}

TEST(ActorTest, SpawnLimitIsAnErrorNotACrash) {
  Journal journal;
  TestSystem t({.max_actors = 2});
  ASSERT_THAT(t.system().Spawn<Recorder>("a", &journal), IsOk());
  ASSERT_THAT(t.system().Spawn<Recorder>("b", &journal), IsOk());
  EXPECT_THAT(t.system().Spawn<Recorder>("c", &journal),
              StatusIs(absl::StatusCode::kResourceExhausted));
  t.RunUntilIdle();
}

TEST(ActorTest, SpawnAfterShutdownIsRefused) {
  Journal journal;
  TestSystem t;
  t.system().Shutdown();
  EXPECT_THAT(t.system().Spawn<Recorder>("a", &journal),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(ActorTest, ShutdownStopsEveryActorAndRefsOutliveTheSystem) {
  Journal journal;
  ActorRef<RecorderProtocol> survivor_ref;
  {
    TestSystem t;
    survivor_ref = t.system().Spawn<Recorder>("a", &journal).value();
    survivor_ref.Tell(SpawnChild{"child"});
    survivor_ref.Tell(Note{"queued"});
  }  // the system shuts down, running the queued messages' stop first
  EXPECT_TRUE(survivor_ref.stopped());
  survivor_ref.Tell(Note{"after the system is gone"});  // a dead letter, not a crash
  EXPECT_THAT(journal, ::testing::Contains("a:destroyed"));
}

TEST(ActorTest, RegistryRegistersLooksUpAndReleasesNames) {
  Journal journal;
  TestSystem t;
  auto a = t.system().Spawn<Recorder>("a", &journal).value();
  EXPECT_THAT(t.system().Register("recorder", a), IsOk());
  EXPECT_THAT(t.system().Register("recorder", a), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(t.system().Register("", a), StatusIs(absl::StatusCode::kInvalidArgument));
  auto found = t.system().Lookup<RecorderProtocol>("recorder");
  ASSERT_THAT(found, IsOk());
  EXPECT_EQ(*found, a);
  using OtherProtocol = Protocol<int>;
  EXPECT_THAT(t.system().Lookup<OtherProtocol>("recorder"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(t.system().Lookup<RecorderProtocol>("nobody"), StatusIs(absl::StatusCode::kNotFound));
  a.Stop();
  t.RunUntilIdle();
  EXPECT_THAT(t.system().Lookup<RecorderProtocol>("recorder"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(t.system().Register("recorder", a), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(ActorTest, UnregisterReleasesAName) {
  Journal journal;
  TestSystem t;
  auto a = t.system().Spawn<Recorder>("a", &journal).value();
  ASSERT_THAT(t.system().Register("x", a), IsOk());
  EXPECT_THAT(t.system().Unregister("x"), IsOk());
  EXPECT_THAT(t.system().Unregister("x"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(t.system().Register("x", a), IsOk());
}

// Per-turn budget: a flooded actor yields so another actor's message runs in between.
struct Tick {};
using TickProtocol = Protocol<Tick>;
class Ticker : public Actor<Ticker, TickProtocol> {
 public:
  Ticker(std::string name, Journal* journal) : name_(std::move(name)), journal_(journal) {}
  void Handle(Tick) { journal_->push_back(name_); }

 private:
  std::string name_;
  Journal* journal_;
};

struct Constructed {
  int* count;
  bool fail;
};
class Fragile : public Actor<Fragile, Protocol<Tick>> {
 public:
  explicit Fragile(Constructed c) {
    ++*c.count;
    if (c.fail) throw std::runtime_error("constructor failed");
  }
  void Handle(Tick) {}
};

TEST(ActorTest, AThrowingConstructorPropagatesAndLeaksNothing) {
  int constructed = 0;
  TestSystem t;
  EXPECT_THROW((void)t.system().Spawn<Fragile>(Constructed{&constructed, true}),
               std::runtime_error);
  EXPECT_EQ(constructed, 1);
  EXPECT_EQ(t.system().stats().live_actors, 0u);  // the slot was given back (ASan: no leak)
  EXPECT_TRUE(t.system().Spawn<Fragile>(Constructed{&constructed, false}).ok());
}

TEST(ActorTest, ARefusedSpawnNeverConstructsTheActor) {
  int constructed = 0;
  TestSystem t({.max_actors = 1});
  ASSERT_TRUE(t.system().Spawn<Fragile>(Constructed{&constructed, false}).ok());
  EXPECT_THAT(t.system().Spawn<Fragile>(Constructed{&constructed, false}),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(constructed, 1);
}

TEST(ActorTest, BudgetBoundsMessagesPerTurn) {
  Journal journal;
  TestSystem t({.budget = 3});
  auto busy = t.system().Spawn<Ticker>("busy", &journal).value();
  auto other = t.system().Spawn<Ticker>("other", &journal).value();
  t.RunUntilIdle();
  for (int i = 0; i < 7; ++i) busy.Tell(Tick{});
  other.Tell(Tick{});
  t.RunUntilIdle();
  EXPECT_THAT(journal,
              ElementsAre("busy", "busy", "busy", "other", "busy", "busy", "busy", "busy"));
}

TEST(ActorTest, StopOvertakesABacklogAlreadyTakenIntoTheActor) {
  Journal journal;
  TestSystem t({.budget = 10});
  auto busy = t.system().Spawn<Ticker>("t", &journal).value();
  t.RunUntilIdle();
  for (int i = 0; i < 100; ++i) busy.Tell(Tick{});
  ASSERT_TRUE(t.RunOne());  // one turn: the whole backlog is taken, 10 handled
  EXPECT_EQ(journal.size(), 10u);
  busy.Stop();
  t.RunUntilIdle();
  // The stop is seen at the next turn, not after the other 90 messages.
  EXPECT_EQ(journal.size(), 10u);
  EXPECT_EQ(t.system().dead_letters().count(), 90u);
}

}  // namespace
}  // namespace troupe
