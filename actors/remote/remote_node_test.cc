// Remote actors between two actor systems (two RemoteNodes over loopback gRPC): order, asks,
// rejection of what was not exported, dead letters across a peer restart, monitoring.
#include "actors/remote/remote_node.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "actors/remote/testing/ping_counter.h"
#include "actors/remote/link.h"
#include "framework/base/notification.h"
#include "framework/base/status_matchers.h"
#include "framework/testing/wait_for.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/echo.pb.h"

namespace troupe {
namespace {

using ::testing::HasSubstr;
using examples::CountPings;
using examples::Ping;
using examples::PingCount;
using testing::PingCounter;
using testing::PingCounterProtocol;
using ::troupe::testing::StatusIs;

using ::troupe::testing::WaitFor;

Ping MakePing(uint64_t seq) {
  Ping p;
  p.set_seq(seq);
  return p;
}

// Hears NodeDown.
struct DownLog {
  std::atomic<int> downs{0};
};
using WatcherProtocol = Protocol<NodeDown>;
class Watcher : public Actor<Watcher, WatcherProtocol> {
 public:
  // Shared: the watcher outlives the test's scope (it may hear of links closing at shutdown).
  explicit Watcher(std::shared_ptr<DownLog> log) : log_(std::move(log)) {}
  void Handle(NodeDown) { ++log_->downs; }

 private:
  std::shared_ptr<DownLog> log_;
};

class RemoteNodeTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(0); }
  void StartServer(int port) {
    server_system_ = std::make_unique<ActorSystem>(ActorSystemOptions{.threads = 1});
    auto node = RemoteNode::Start(
        *server_system_, {.name = "server", .listen_address = "127.0.0.1:" + std::to_string(port)});
    ASSERT_TRUE(node.ok()) << node.status();
    server_ = std::move(*node);
    counter_ = server_system_->Spawn<PingCounter>().value();
    ASSERT_TRUE(server_->Export("counter", counter_).ok());
    address_ = "127.0.0.1:" + std::to_string(server_->port());
  }
  void StopServer() {
    server_.reset();
    server_system_.reset();
  }
  PingCount Count(const ActorRef<PingCounterProtocol>& counter) {
    auto r = client_system_.Ask(counter, CountPings(), absl::Seconds(10)).get();
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : PingCount();
  }

  ActorSystem client_system_{ActorSystemOptions{.threads = 1}};
  std::unique_ptr<RemoteNode> client_ =
      RemoteNode::Start(client_system_, {.name = "client",
                                         .backoff_initial = absl::Milliseconds(50),
                                         .backoff_max = absl::Milliseconds(200)})
          .value();
  std::unique_ptr<ActorSystem> server_system_;
  std::unique_ptr<RemoteNode> server_;
  ActorRef<PingCounterProtocol> counter_;
  std::string address_;
};

TEST_F(RemoteNodeTest, AHundredThousandMessagesArriveInOrderOnce) {
  auto remote = client_->Ref<PingCounterProtocol>(address_, "counter");
  ASSERT_TRUE(remote.ok()) << remote.status();
  constexpr uint64_t kMessages = 100000;
  for (uint64_t i = 1; i <= kMessages; ++i) remote->Tell(MakePing(i));
  ASSERT_TRUE(WaitFor([&] { return client_->stats().acked == kMessages; }))
      << client_->stats().acked;
  const PingCount count = Count(*remote);  // an ask across nodes, after the Pings
  EXPECT_EQ(count.received(), kMessages);
  EXPECT_EQ(count.out_of_order(), 0u);
  EXPECT_EQ(count.duplicates(), 0u);
  EXPECT_EQ(count.last_seq(), kMessages);
  EXPECT_EQ(client_->stats().dead_letters, 0u);
  EXPECT_EQ(server_->stats().delivered, kMessages + 1);  // the Pings and the ask
  // The same figures in the systems' metrics (what /metrics serves).
  const std::string link = "{node=\"client\",peer=\"" + address_ + "\"} ";
  const std::string client = client_system_.metrics().TextFormat();
  EXPECT_THAT(client, HasSubstr("troupe_remote_messages_sent_total" + link + "100001\n"));
  EXPECT_THAT(client, HasSubstr("troupe_remote_messages_acked_total" + link + "100001\n"));
  EXPECT_THAT(client, HasSubstr("troupe_remote_link_up" + link + "1\n"));
  EXPECT_THAT(client, HasSubstr("troupe_remote_link_connects_total" + link + "1\n"));
  // The messages went in batches: at least one frame, at most one per message.
  const std::string frames_line = "troupe_remote_frames_sent_total" + link;
  const size_t at = client.find(frames_line);
  ASSERT_NE(at, std::string::npos) << client;
  const double frames = std::stod(client.substr(at + frames_line.size()));
  EXPECT_GE(frames, 1);
  EXPECT_LE(frames, 100001);
  EXPECT_THAT(server_system_->metrics().TextFormat(),
              HasSubstr("troupe_remote_messages_delivered_total{node=\"server\"} 100001\n"));
}

TEST_F(RemoteNodeTest, TheSameAddressNameAndProtocolGiveTheSameReference) {
  auto a = client_->Ref<PingCounterProtocol>(address_, "counter");
  auto b = client_->Ref<PingCounterProtocol>(address_, "counter");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->cell(), b->cell());
}

TEST_F(RemoteNodeTest, WhatWasNotExportedIsRejectedAndCounted) {
  auto nobody = client_->Ref<PingCounterProtocol>(address_, "nobody");
  ASSERT_TRUE(nobody.ok());
  nobody->Tell(MakePing(1));
  auto r = client_system_.Ask(*nobody, CountPings(), absl::Seconds(10)).get();
  EXPECT_THAT(r.status(), StatusIs(absl::StatusCode::kNotFound));
  // A type the exported actor's Protocol does not list.
  using WrongProtocol = Protocol<examples::EchoRequest>;
  auto wrong = client_->Ref<WrongProtocol>(address_, "counter");
  ASSERT_TRUE(wrong.ok());
  examples::EchoRequest echo;
  echo.set_text("not a Ping");
  wrong->Tell(echo);
  ASSERT_TRUE(WaitFor([&] {
    const RemoteNodeStats s = server_->stats();
    return s.rejected_unknown_target == 2 && s.rejected_unknown_type == 1;
  }));
  const std::string text = server_system_->metrics().TextFormat();
  EXPECT_THAT(text, HasSubstr("troupe_remote_messages_rejected_total{node=\"server\","
                              "reason=\"unknown_target\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("troupe_remote_messages_rejected_total{node=\"server\","
                              "reason=\"unknown_type\"} 1\n"));
  EXPECT_EQ(Count(counter_).received(), 0u);  // nothing reached the counter
}

// Sends `frames` (raw bytes, each meant as one ClientFrame) on one node stream, as a hostile or
// broken peer would; returns the status the server ended the stream with.
grpc::Status SendRawFrames(const std::string& address, const std::vector<std::string>& frames) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto next = [&cq] {
    void* tag;
    bool ok = false;
    return cq.Next(&tag, &ok) && ok;
  };
  auto call = stub.PrepareCall(&context, "/troupe.node.Node/Connect", &cq);
  call->StartCall(reinterpret_cast<void*>(1));
  next();
  for (const std::string& frame : frames) {
    grpc::Slice slice(frame);
    grpc::ByteBuffer buffer(&slice, 1);
    call->Write(buffer, reinterpret_cast<void*>(2));
    if (!next()) break;  // the server ended the stream
  }
  call->WritesDone(reinterpret_cast<void*>(3));
  next();
  // The server's replies (welcome, acks) must be read before the status is delivered.
  grpc::ByteBuffer reply;
  do {
    call->Read(&reply, reinterpret_cast<void*>(5));
  } while (next());
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(4));
  next();
  return status;
}

// The fixed corpus of malformed node frames (actors/remote/fuzz_corpus/node_frame: no hello,
// wrong version, sequence gaps and repeats, unknown types, malformed payloads, garbage,
// truncated, nested too deep) sent over a real node link: the server rejects each stream and
// carries on serving well-behaved peers.
TEST_F(RemoteNodeTest, MalformedFramesOverTheLinkAreRejectedAndTheServerCarriesOn) {
  int streams = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator("actors/remote/fuzz_corpus/node_frame")) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> frames;  // the corpus format: 2-byte length, then the frame
    for (size_t at = 0; at + 2 <= bytes.size();) {
      const size_t n = std::min<size_t>(
          bytes.size() - at - 2,
          (static_cast<uint8_t>(bytes[at]) << 8) | static_cast<uint8_t>(bytes[at + 1]));
      frames.push_back(bytes.substr(at + 2, n));
      at += 2 + n;
    }
    const grpc::Status status = SendRawFrames(address_, frames);
    std::printf("%s: %d %s\n", entry.path().filename().c_str(),
                static_cast<int>(status.error_code()), status.error_message().c_str());
    ++streams;
  }
  EXPECT_GE(streams, 10);
  const RemoteNodeStats stats = server_->stats();
  EXPECT_GE(stats.bad_streams + stats.rejected_unknown_type + stats.rejected_malformed, 5u);
  // The well-formed frames inside the corpus reached the counter (in order, or not at all);
  // what matters here: the server still serves a proper peer.
  const uint64_t before = Count(counter_).received();
  auto counter = client_->Ref<PingCounterProtocol>(address_, "counter");
  ASSERT_TRUE(counter.ok());
  for (uint64_t i = 1; i <= 100; ++i) counter->Tell(MakePing(i));
  ASSERT_TRUE(WaitFor([&] { return Count(counter_).received() == before + 100; }));
}

TEST_F(RemoteNodeTest, APeerRestartTurnsTheMessagesSentMeanwhileIntoDeadLettersNeverDuplicates) {
  auto remote = client_->Ref<PingCounterProtocol>(address_, "counter");
  ASSERT_TRUE(remote.ok());
  auto downs = std::make_shared<DownLog>();
  ASSERT_TRUE(client_->Monitor(*remote, client_system_.Spawn<Watcher>(downs).value()).ok());
  uint64_t seq = 0;
  for (int i = 0; i < 1000; ++i) remote->Tell(MakePing(++seq));
  ASSERT_TRUE(WaitFor([&] { return client_->stats().acked == 1000; }));
  const uint64_t before = Count(counter_).received();
  EXPECT_EQ(before, 1000u);

  const int port = server_->port();
  StopServer();
  ASSERT_TRUE(WaitFor([&] { return downs->downs.load() == 1; }));
  // The peer is down: these become dead letters at once (or when their link breaks).
  for (int i = 0; i < 500; ++i) remote->Tell(MakePing(++seq));
  ASSERT_TRUE(WaitFor([&] { return client_->stats().dead_letters >= 500; }));
  EXPECT_GE(client_system_.dead_letters().count(), 500u);

  StartServer(port);  // the same address, a new process-like incarnation
  // The link comes back by itself; keep sending until messages get through again.
  ASSERT_TRUE(WaitFor([&] {
    remote->Tell(MakePing(++seq));
    // Real time: the link reconnects on its backoff timer (50 to 200 ms); pace the pings.
    absl::SleepFor(absl::Milliseconds(5));
    return Count(counter_).received() > 0;
  }));
  for (int i = 0; i < 1000; ++i) remote->Tell(MakePing(++seq));
  ASSERT_TRUE(WaitFor([&] {
    const RemoteNodeStats s = client_->stats();
    return s.sent == seq && s.acked + s.dead_letters == s.sent;  // all through the proxy
  }));
  const RemoteNodeStats s = client_->stats();
  const PingCount after = Count(counter_);
  EXPECT_EQ(s.sent, seq);
  EXPECT_EQ(after.duplicates(), 0u);
  EXPECT_EQ(after.out_of_order(), 0u);
  EXPECT_EQ(after.last_seq(), seq);
  // Every message is accounted for exactly once: delivered before, delivered after, or dead.
  EXPECT_EQ(before + after.received() + s.dead_letters, seq);
  EXPECT_EQ(client_->stats().connects, 2u);
}

TEST_F(RemoteNodeTest, AnUnreachableNodeFailsAsksAndReportsDown) {
  auto remote = client_->Ref<PingCounterProtocol>("127.0.0.1:1", "counter");
  ASSERT_TRUE(remote.ok());
  auto downs = std::make_shared<DownLog>();
  ASSERT_TRUE(client_->Monitor(*remote, client_system_.Spawn<Watcher>(downs).value()).ok());
  ASSERT_TRUE(WaitFor([&] { return downs->downs.load() == 1; }));
  auto r = client_system_.Ask(*remote, CountPings(), absl::Seconds(10)).get();
  EXPECT_THAT(r.status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_GE(client_->stats().dead_letters, 1u);
  EXPECT_THAT(client_->Monitor(counter_, client_system_.Spawn<Watcher>(downs).value()),
              StatusIs(absl::StatusCode::kNotFound));  // a local actor
}

// A link's stream that ended runs on in its OnDone (on a gRPC thread, holding the Link) after
// it has told the down watchers. Shutdown waits for that, so once it returns no gRPC thread
// holds the Link: the last reference, and the channel with it, goes here. (Without the wait, a
// process exiting right after a refused connection raced gRPC's callback threads, which freed
// their queue twice under ASan; the watcher's pause below holds that window open.)
TEST(LinkTest, ShutdownWaitsUntilAnEndedStreamHasLetGoOfTheLink) {
  // A peer that takes the TCP connection but never speaks HTTP/2: the link stays connecting
  // until the test drops it, so the watcher is in place before the stream fails (a watcher
  // added to a link already down runs at once, on the adding thread).
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len), 0);

  ActorSystem system(ActorSystemOptions{.threads = 1});
  std::shared_ptr<internal::Link> link = internal::Link::Create(
      system, {.address = "127.0.0.1:" + std::to_string(ntohs(a.sin_port)),
               .local_node = "client"});
  const std::thread::id test_thread = std::this_thread::get_id();
  Notification down, shutting_down;
  link->AddDownWatcher([&](const absl::Status&) {
    if (down.HasBeenNotified()) return;  // once
    down.Notify();
    if (std::this_thread::get_id() == test_thread) {
      ADD_FAILURE() << "the link was down before its watcher was added";
      return;
    }
    shutting_down.WaitForNotification();
    absl::SleepFor(absl::Milliseconds(100));  // the stream's OnDone is still to finish
  });
  pollfd pending{listener, POLLIN, 0};
  ASSERT_EQ(::poll(&pending, 1, 10000), 1) << "the link did not connect";
  ::close(::accept(listener, nullptr, nullptr));
  ::close(listener);  // the stream fails now, and every reconnect is refused

  ASSERT_TRUE(down.WaitForNotificationWithTimeout(absl::Seconds(10)));
  shutting_down.Notify();
  link->Shutdown();
  std::weak_ptr<internal::Link> weak = link;
  link.reset();
  EXPECT_TRUE(weak.expired()) << "a gRPC thread still holds the link after Shutdown";
}

// Forwards one TCP connection at a time between a loopback port and `to_port`, until told to
// go silent: then it holds both connections open and forwards nothing (a host that vanished
// without closing its connections, a dropped route).
class SilenceableProxy {
 public:
  explicit SilenceableProxy(int to_port) : to_port_(to_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), len), 0);
    EXPECT_EQ(::listen(listen_fd_, 8), 0);
    EXPECT_EQ(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~SilenceableProxy() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  int port() const { return port_; }
  void Silence() { silent_ = true; }

 private:
  void Run() {
    std::vector<int> fds;  // accepted and dialed, in pairs
    while (!stop_) {
      std::vector<pollfd> polled{{listen_fd_, POLLIN, 0}};
      if (!silent_) {
        for (int fd : fds) polled.push_back({fd, POLLIN, 0});
      }
      if (::poll(polled.data(), polled.size(), 20) <= 0) continue;
      if (polled[0].revents & POLLIN) {
        const int in = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        const int out = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(to_port_);
        if (in >= 0 && ::connect(out, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
          fds.push_back(in);
          fds.push_back(out);
        }
      }
      for (size_t i = 1; i < polled.size(); ++i) {
        if ((polled[i].revents & (POLLIN | POLLHUP)) == 0) continue;
        const size_t at = i - 1;
        const int peer = fds[at ^ 1];
        char buffer[16384];
        const ssize_t n = ::read(fds[at], buffer, sizeof(buffer));
        if (n > 0) (void)!::write(peer, buffer, static_cast<size_t>(n));
      }
    }
    for (int fd : fds) ::close(fd);
  }

  int to_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false}, silent_{false};
  std::thread thread_;
};

// Keepalive: quiet links ping (the serving side admits the pings, so a quiet link is not cut
// off as abusive), and a peer that stops answering without closing is found by its unanswered
// pings: the link goes down and the watcher hears NodeDown.
TEST(RemoteNodeKeepaliveTest, AQuietLinkStaysUpAndAPeerThatGoesSilentIsReportedDown) {
  const RemoteNodeOptions keepalive{.keepalive_time = absl::Milliseconds(200),
                                    .keepalive_timeout = absl::Milliseconds(500)};
  ActorSystem server_system({.threads = 1});
  RemoteNodeOptions server_options = keepalive;
  server_options.name = "server";
  server_options.listen_address = "127.0.0.1:0";
  auto server = RemoteNode::Start(server_system, server_options);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->Export("counter", server_system.Spawn<PingCounter>().value()).ok());
  SilenceableProxy proxy((*server)->port());
  ActorSystem client_system({.threads = 1});
  RemoteNodeOptions client_options = keepalive;
  client_options.name = "client";
  client_options.backoff_initial = absl::Seconds(30);  // no reconnect during the test
  auto client = RemoteNode::Start(client_system, client_options);
  ASSERT_TRUE(client.ok()) << client.status();
  auto remote = (*client)->Ref<PingCounterProtocol>("127.0.0.1:" + std::to_string(proxy.port()),
                                                    "counter");
  ASSERT_TRUE(remote.ok());
  auto downs = std::make_shared<DownLog>();
  ASSERT_TRUE((*client)->Monitor(*remote, client_system.Spawn<Watcher>(downs).value()).ok());
  ASSERT_TRUE(client_system.Ask(*remote, CountPings(), absl::Seconds(10)).get().ok());
  // Quiet for ten ping intervals: nobody cut the link for pinging.
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ((*client)->stats().link_failures, 0u);
  EXPECT_EQ(downs->downs.load(), 0);
  ASSERT_TRUE(client_system.Ask(*remote, CountPings(), absl::Seconds(10)).get().ok());
  // The peer goes silent: within a ping and its timeout the link is down.
  proxy.Silence();
  const absl::Time silenced = absl::Now();
  ASSERT_TRUE(WaitFor([&] { return downs->downs.load() == 1; }, absl::Seconds(10)));
  EXPECT_LT(absl::Now() - silenced, absl::Seconds(5));
  EXPECT_EQ((*client)->stats().link_failures, 1u);
}

}  // namespace
}  // namespace troupe
