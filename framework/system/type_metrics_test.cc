// Per-type actor metrics (framework/actor/type_metrics.h): an actor type that opts in shows its
// messages, handler latency and mailbox depth in the system's metrics, exactly; one that does not
// shows nothing; ActorSystemOptions::measured_actor_types opts types in by name, or all.
#include <string>

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

TEST(TypeMetricsTest, AnOptedInTypeShowsMessagesLatencyAndMailboxDepthExactly) {
  ActorSystem system({.threads = 2});
  auto a = system.Spawn<Measured>().value();
  auto b = system.Spawn<Measured>().value();
  const std::string type(kTypeName<Measured>);
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
  const std::string text = system.metrics().TextFormat();
  // 2 Holds + 15 Works + 2 Dones handled.
  EXPECT_THAT(text, HasSubstr("troupe_actor_messages_total" + Labels(type) + " 19\n"));
  EXPECT_THAT(text, HasSubstr("troupe_actor_handler_seconds_count" + Labels(type) + " 19\n"));
  EXPECT_THAT(text, HasSubstr("troupe_actor_mailbox_depth" + Labels(type) + " 0\n"));
  EXPECT_THAT(text, HasSubstr("troupe_actor_handler_seconds_bucket{type=\"" + type +
                              "\",le=\"+Inf\"} 19\n"));
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
  EXPECT_THAT(system.metrics().TextFormat(),
              HasSubstr("troupe_actor_mailbox_depth" + Labels(type) + " 0\n"));
}

TEST(TypeMetricsTest, TypesOptInByNameOrAll) {
  const std::string plain_type(kTypeName<Plain>);
  for (const std::string& option : {plain_type, std::string("*")}) {
    ActorSystem system({.threads = 1, .measured_actor_types = {option}});
    auto plain = system.Spawn<Plain>().value();
    ASSERT_TRUE(system.Ask(plain, Done{}, absl::Seconds(10)).get().ok());
    EXPECT_THAT(system.metrics().TextFormat(),
                HasSubstr("troupe_actor_messages_total" + Labels(plain_type) + " 1\n"))
        << option;
  }
}

}  // namespace
}  // namespace troupe
