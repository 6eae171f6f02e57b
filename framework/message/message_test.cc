#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "framework/message/envelope.h"
#include "framework/message/protocol.h"

namespace troupe {
namespace {

struct Increment {
  int by;
};
struct Get {};
using CounterProtocol = Protocol<Increment, Request<Get, int>>;

static_assert(CounterProtocol::kAccepts<Increment>);
static_assert(CounterProtocol::kAccepts<Get>);
static_assert(!CounterProtocol::kAccepts<std::string>);
static_assert(CounterProtocol::kTagOf<Increment> == 0);
static_assert(CounterProtocol::kTagOf<Get> == 1);
static_assert(!CounterProtocol::EntryOf<Increment>::kIsRequest);
static_assert(CounterProtocol::EntryOf<Get>::kIsRequest);
static_assert(std::is_same_v<CounterProtocol::EntryOf<Get>::Response, int>);

struct Tracked {
  explicit Tracked(int* destroyed) : destroyed(destroyed) {}
  ~Tracked() { ++*destroyed; }
  int* destroyed;
};

TEST(EnvelopeTest, CarriesPayloadTagAndName) {
  auto* e = new MessageEnvelope<Increment>(CounterProtocol::kTagOf<Increment>, Increment{5});
  EXPECT_EQ(e->tag(), 0u);
  EXPECT_EQ(e->payload.by, 5);
  EXPECT_EQ(e->info()->name, "{anonymous}::Increment");
  EXPECT_EQ(e->priority(), Priority::kUser);
  DestroyEnvelope(e);
}

TEST(EnvelopeTest, PacksInfoTagAndPriorityIntoSixteenBytes) {
  static_assert(sizeof(MessageEnvelope<int64_t>) == 24);  // a 32-byte malloc chunk
  auto* e = new MessageEnvelope<int64_t>(kStopTag, 7);
  e->set_priority(Priority::kSystem);
  EXPECT_EQ(e->tag(), kStopTag);
  EXPECT_EQ(e->priority(), Priority::kSystem);
  EXPECT_EQ(e->info(), &MessageEnvelope<int64_t>::kInfo);
  e->set_priority(Priority::kUser);
  EXPECT_EQ(e->priority(), Priority::kUser);
  EXPECT_EQ(e->tag(), kStopTag);
  DestroyEnvelope(e);
}

TEST(EnvelopeTest, DestroyRunsPayloadDestructorOnce) {
  int destroyed = 0;
  Envelope* e = new MessageEnvelope<Tracked>(0, &destroyed);
  DestroyEnvelope(e);
  EXPECT_EQ(destroyed, 1);
}

TEST(EnvelopeTest, MoveOnlyPayloads) {
  auto* e = new MessageEnvelope<std::unique_ptr<int>>(0, std::make_unique<int>(7));
  EXPECT_EQ(*e->payload, 7);
  DestroyEnvelope(e);
}

TEST(ProtocolTest, IdsAreDistinctPerProtocol) {
  using Other = Protocol<Increment>;
  EXPECT_NE(CounterProtocol::Id(), Other::Id());
  EXPECT_EQ(CounterProtocol::Id(), (Protocol<Increment, Request<Get, int>>::Id()));
}

}  // namespace
}  // namespace troupe
