// Trace context through actors: a message sent under a trace carries it; its handler runs as a
// new span of that trace, and the Tells and Asks it makes inherit it (parent = that span); an
// untraced message has none; a sampled trace's spans reach the system's SpanSink in order, an
// unsampled one travels but records nothing; traced envelopes that become dead letters leave
// nothing behind.
#include <optional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "framework/base/mutex.h"
#include "framework/message/envelope_trace.h"
#include "framework/system/actor_system.h"
#include "framework/testing/span_recorder.h"
#include "framework/testing/wait_for.h"
#include "framework/trace/span_sink.h"
#include "gtest/gtest.h"

namespace troupe {
namespace {

using Seen = testing::SeenTraces;  // the traces the handlers ran under

using testing::AttributeOf;
using testing::SpanRecorder;

struct Hop {};
struct Question {};

class Last : public Actor<Last, Protocol<Hop, Request<Question, int>>> {
 public:
  explicit Last(Seen* seen) : seen_(seen) {}
  void Handle(Hop) { seen_->Record(); }
  int Handle(Question) {
    seen_->Record();
    return 42;
  }

 private:
  Seen* seen_;
};

// Tells `last` a Hop and asks it a Question; records the trace the answer arrives under.
class First : public Actor<First, Protocol<Hop>> {
 public:
  First(Seen* seen, ActorRef<Last::ActorProtocol> last) : seen_(seen), last_(std::move(last)) {}
  void Handle(Hop) {
    seen_->Record();
    last_.Tell(Hop{});
    (void)ctx().Ask(last_, Question{}, absl::Seconds(10),
                    [this](absl::StatusOr<int>) { seen_->Record(); });
  }

 private:
  Seen* seen_;
  ActorRef<Last::ActorProtocol> last_;
};

struct Chain {
  Seen first_seen, last_seen;
  std::shared_ptr<SpanRecorder> spans = std::make_shared<SpanRecorder>();
  ActorSystem system{{.threads = 2, .span_sink = spans}};
  ActorRef<Last::ActorProtocol> last = *system.Spawn<Last>(&last_seen);
  ActorRef<First::ActorProtocol> first = *system.Spawn<First>(&first_seen, last);

  bool Ran() {
    return testing::WaitFor([&] { return first_seen.Get().size() == 2 && last_seen.Get().size() == 2; });
  }
};

TEST(TraceTest, HandlersRunAsChildSpansAndWhatTheySendInheritsTheTrace) {
  Chain chain;
  const TraceContext root = TraceContext::NewRoot();
  {
    ScopedTrace scope(&root);
    chain.first.Tell(Hop{});
  }
  ASSERT_TRUE(chain.Ran());
  std::vector<std::optional<TraceContext>> first = chain.first_seen.Get();
  std::vector<std::optional<TraceContext>> last = chain.last_seen.Get();
  // First's handler: the root's trace, a span of its own.
  ASSERT_TRUE(first[0].has_value());
  EXPECT_EQ(first[0]->trace_id, root.trace_id);
  EXPECT_NE(first[0]->span_id, root.span_id);
  // What it told and asked: the same trace; the ask's answer comes back within it too.
  for (const auto& t : last) {
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->trace_id, root.trace_id);
  }
  ASSERT_TRUE(first[1].has_value());
  EXPECT_EQ(first[1]->trace_id, root.trace_id);

  // Spans: First's handler (parent: the root), Last's two (parent: First's span), the reply.
  ASSERT_TRUE(testing::WaitFor([&] { return chain.spans->Get().size() == 4; }));
  std::vector<Span> spans = chain.spans->Get();
  const Span* first_span = nullptr;
  for (const Span& s : spans) {
    if (s.context.span_id == first[0]->span_id) first_span = &s;
  }
  ASSERT_NE(first_span, nullptr);
  EXPECT_EQ(first_span->parent_span_id, root.span_id);
  EXPECT_EQ(first_span->kind, Span::Kind::kActor);
  EXPECT_NE(first_span->name.find("Hop"), std::string::npos) << first_span->name;
  // Under it: Last's two (the Hop and the Question) and the ask's answer, run on First as its
  // continuation in First's trace.
  int last_children = 0, first_children = 0;
  for (const Span& s : spans) {
    EXPECT_EQ(s.context.trace_id, root.trace_id);
    if (s.parent_span_id != first_span->context.span_id) continue;
    EXPECT_GE(s.start, first_span->start);
    if (AttributeOf(s, "actor_type").find("Last") != std::string::npos) ++last_children;
    if (AttributeOf(s, "actor_type").find("First") != std::string::npos) ++first_children;
  }
  EXPECT_EQ(last_children, 2);
  EXPECT_EQ(first_children, 1);
  EXPECT_EQ(internal::TracedEnvelopesInFlight(), 0u);
}

TEST(TraceTest, UntracedMessagesHaveNoTrace) {
  Chain chain;
  chain.first.Tell(Hop{});
  ASSERT_TRUE(chain.Ran());
  for (const auto& t : chain.first_seen.Get()) EXPECT_FALSE(t.has_value());
  for (const auto& t : chain.last_seen.Get()) EXPECT_FALSE(t.has_value());
  // Real time: a span recorded by mistake would arrive from a worker thread meanwhile.
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_TRUE(chain.spans->Get().empty());
}

TEST(TraceTest, AnUnsampledTraceTravelsButRecordsNoSpans) {
  Chain chain;
  const TraceContext root = TraceContext::NewRoot(/*sampled=*/false);
  {
    ScopedTrace scope(&root);
    chain.first.Tell(Hop{});
  }
  ASSERT_TRUE(chain.Ran());
  for (const auto& t : chain.last_seen.Get()) {
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->trace_id, root.trace_id);
    EXPECT_FALSE(t->sampled());
  }
  // Real time: a span recorded by mistake would arrive from a worker thread meanwhile.
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_TRUE(chain.spans->Get().empty());
}

TEST(TraceTest, TracedDeadLettersLeaveNothingBehind) {
  Chain chain;
  chain.last.Stop();
  ASSERT_TRUE(testing::WaitFor([&] { return chain.last.stopped(); }));
  const uint64_t before = chain.system.dead_letters().count();
  const TraceContext root = TraceContext::NewRoot();
  {
    ScopedTrace scope(&root);
    for (int i = 0; i < 100; ++i) chain.last.Tell(Hop{});
  }
  EXPECT_EQ(chain.system.dead_letters().count(), before + 100);
  EXPECT_EQ(internal::TracedEnvelopesInFlight(), 0u);
}

}  // namespace
}  // namespace troupe
