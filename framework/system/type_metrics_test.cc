// Per-type actor metrics (framework/actor/type_metrics.h): an actor type that opts in shows its
// messages, handler latency and mailbox depth in the system's metrics, exactly; one that does not
// shows nothing; ActorSystemOptions::measured_actor_types opts types in by name, or all.
#include <string>
#include <vector>

#include "framework/base/notification.h"
#include "framework/system/actor_system.h"
#include "framework/testing/wait_for.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace troupe {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Hold {
  Notification* until;
};
struct Work {};
struct Done {};

// Handles Hold by waiting (so that what comes after it waits in the mailbox).
template <bool kOptIn>
class Worker : public Actor<Worker<kOptIn>, Protocol<Hold, Work, Request<Done, bool>>> {
 public:
  static constexpr bool kTypeMetrics = kOptIn;
  void Handle(Hold h) { h.until->WaitForNotification(); }
  void Handle(Work) {}
  bool Handle(Done) { return true; }
};
using Measured = Worker<true>;
using Plain = Worker<false>;

std::string Labels(absl::string_view type) { return absl::StrCat("{type=\"", type, "\"}"); }

// Monitors `target` from its start (a watch request is a message in the target's mailbox too).
template <typename P>
class Watcher : public Actor<Watcher<P>, Protocol<Down, Request<Done, bool>>> {
 public:
  explicit Watcher(ActorRef<P> target) : target_(std::move(target)) {}
  void OnStart() override { this->MonitorActor(target_); }
  void Handle(Down) {}
  bool Handle(Done) { return true; }

 private:
  ActorRef<P> target_;
};

TEST(TypeMetricsTest, AnOptedInTypeShowsMessagesLatencyAndMailboxDepthExactly) {
  ActorSystem system({.threads = 2});
  auto a = system.Spawn<Measured>().value();
  auto b = system.Spawn<Measured>().value();
  const std::string type(kTypeName<Measured>);
  // Three watchers on `a`: their watch requests go in and out of its mailbox like messages
  // (a miscount of them would show in the exact depth below).
  for (int i = 0; i < 3; ++i) {
    auto w = system.Spawn<Watcher<Measured::ActorProtocol>>(a).value();
    ASSERT_TRUE(system.Ask(w, Done{}, absl::Seconds(10)).get().ok());
  }
  ASSERT_TRUE(system.Ask(a, Done{}, absl::Seconds(10)).get().ok());  // the watches are in
  Notification release;
  a.Tell(Hold{&release});
  b.Tell(Hold{&release});
  for (int i = 0; i < 10; ++i) a.Tell(Work{});
  for (int i = 0; i < 5; ++i) b.Tell(Work{});
  // Both are held: 15 messages wait over the type's two actors.
  ASSERT_TRUE(testing::WaitFor([&] {
    return system.metrics().TextFormat().find("troupe_actor_mailbox_depth" + Labels(type) +
                                              " 15\n") != std::string::npos;
  })) << system.metrics().TextFormat();
  release.Notify();
  ASSERT_TRUE(system.Ask(a, Done{}, absl::Seconds(10)).get().ok());
  ASSERT_TRUE(system.Ask(b, Done{}, absl::Seconds(10)).get().ok());
  // 3 watch requests + the first Done, then 2 Holds + 15 Works + 2 Dones handled. (The last
  // handler's figures land just after its reply went out: wait for them.)
  const std::vector<std::string> expected = {
      "troupe_actor_messages_total" + Labels(type) + " 23\n",
      "troupe_actor_handler_seconds_count" + Labels(type) + " 23\n",
      "troupe_actor_mailbox_depth" + Labels(type) + " 0\n",
      "troupe_actor_handler_seconds_bucket{type=\"" + type + "\",le=\"+Inf\"} 23\n"};
  std::string text;
  const bool all = testing::WaitFor([&] {
    text = system.metrics().TextFormat();
    for (const std::string& e : expected) {
      if (text.find(e) == std::string::npos) return false;
    }
    return true;
  });
  for (const std::string& e : expected) EXPECT_THAT(text, HasSubstr(e));
  EXPECT_TRUE(all);
  // A type that did not opt in is not there.
  auto plain = system.Spawn<Plain>().value();
  ASSERT_TRUE(system.Ask(plain, Done{}, absl::Seconds(10)).get().ok());
  EXPECT_THAT(system.metrics().TextFormat(), Not(HasSubstr(std::string(kTypeName<Plain>))));
}

TEST(TypeMetricsTest, MessagesLeftAtStopLeaveTheDepth) {
  ActorSystem system({.threads = 2});
  auto a = system.Spawn<Measured>().value();
  const std::string type(kTypeName<Measured>);
  Notification release;
  a.Tell(Hold{&release});
  for (int i = 0; i < 7; ++i) a.Tell(Work{});
  a.Stop();
  release.Notify();
  ASSERT_TRUE(testing::WaitFor([&] { return a.stopped(); }));
  // The messages left behind are taken out as the mailbox closes (just after stopped()).
  const std::string line = "troupe_actor_mailbox_depth" + Labels(type) + " 0\n";
  EXPECT_TRUE(testing::WaitFor(
      [&] { return system.metrics().TextFormat().find(line) != std::string::npos; }))
      << system.metrics().TextFormat();
}

TEST(TypeMetricsTest, TypesOptInByNameOrAll) {
  const std::string plain_type(kTypeName<Plain>);
  for (const std::string& option : {plain_type, std::string("*")}) {
    ActorSystem system({.threads = 1, .measured_actor_types = {option}});
    auto plain = system.Spawn<Plain>().value();
    ASSERT_TRUE(system.Ask(plain, Done{}, absl::Seconds(10)).get().ok());
    const std::string line = "troupe_actor_messages_total" + Labels(plain_type) + " 1\n";
    EXPECT_TRUE(testing::WaitFor([&] {
      return system.metrics().TextFormat().find(line) != std::string::npos;
    })) << option << "\n" << system.metrics().TextFormat();
  }
}

}  // namespace
}  // namespace troupe
