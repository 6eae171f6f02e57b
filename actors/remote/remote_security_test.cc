// Node links under mutual TLS, on a PKI made for this run: the receiver learns the verified
// sending node; plaintext, another CA, an expired certificate and a server with the wrong
// identity are refused at the handshake (the link's messages become dead letters); a Hello
// claiming another node's name ends the stream; exports refuse nodes their AccessPolicy does
// not admit; and the limits for a hostile peer: a one-year ask deadline is clamped, a flood of
// asks is refused RESOURCE_EXHAUSTED, and a full bounded mailbox pauses the link instead of
// dropping or growing. Rotation: a dialing node's renewed certificate is what its next
// connection presents.
#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "actors/remote/remote_node.h"
#include "actors/tls/testing/test_pki.h"
#include "framework/base/status_matchers.h"
#include "framework/testing/wait_for.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "gtest/gtest.h"
#include "proto/echo.pb.h"
#include "proto/node.grpc.pb.h"

namespace troupe {
namespace {

using examples::EchoReply;
using examples::EchoRequest;
using ::troupe::testing::IsOk;
using ::troupe::testing::StatusIs;
using ::troupe::testing::TestPki;
using ::troupe::testing::WaitFor;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// What senders see: an ask and a tell.
using WhoProtocol = Protocol<Request<EchoRequest, EchoReply>>;
using SinkProtocol = Protocol<EchoReply>;

// Answers with the sending node and its verified identity (FromNode<T>).
class Who : public Actor<Who, Protocol<Request<FromNode<EchoRequest>, EchoReply>>> {
 public:
  EchoReply Handle(FromNode<EchoRequest> m) {
    EchoReply reply;
    reply.set_text(absl::StrCat(m.node, "|", m.peer.name));
    return reply;
  }
};

// Never answers: keeps every promise (asks end at their deadline).
class Silent : public Actor<Silent, Protocol<Request<EchoRequest, EchoReply>>> {
 public:
  void Handle(EchoRequest, Promise<EchoReply> reply) { kept_.push_back(std::move(reply)); }

 private:
  std::vector<Promise<EchoReply>> kept_;
};

// A slow consumer with a small bounded mailbox: each message takes 1 ms.
struct SinkLog {
  std::atomic<int> handled{0};
};
class SlowSink : public Actor<SlowSink, SinkProtocol> {
 public:
  static constexpr MailboxLimit kMailboxLimit{10, OverflowPolicy::kReject};
  explicit SlowSink(std::shared_ptr<SinkLog> log) : log_(std::move(log)) {}
  void Handle(EchoReply) {
    // Slow on purpose: the small mailbox fills, so the link has to pause.
    absl::SleepFor(absl::Milliseconds(1));
    ++log_->handled;
  }

 private:
  std::shared_ptr<SinkLog> log_;
};

class RemoteSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = TestPki::Create();
    ASSERT_THAT(pki, IsOk());
    pki_.emplace(*std::move(pki));
    ASSERT_THAT(pki_->Make({"node-c"}), IsOk());
  }
  // The serving node "node-b" with mutual TLS.
  void Serve(RemoteNodeOptions options = {}) {
    options.name = "node-b";
    if (options.listen_address.empty()) options.listen_address = "127.0.0.1:0";
    if (!options.tls.enabled()) options.tls = pki_->Files("node-b");
    auto node = RemoteNode::Start(server_system_, std::move(options));
    ASSERT_THAT(node, IsOk());
    server_ = *std::move(node);
    address_ = absl::StrCat("127.0.0.1:", server_->port());
  }
  std::unique_ptr<RemoteNode> Client(const std::string& name, TlsFiles tls,
                                     RemoteNodeOptions options = {}) {
    options.name = name;
    options.tls = std::move(tls);
    options.backoff_initial = absl::Milliseconds(50);
    options.backoff_max = absl::Milliseconds(200);
    auto node = RemoteNode::Start(client_system_, std::move(options));
    EXPECT_THAT(node, IsOk());
    return node.ok() ? *std::move(node) : nullptr;
  }
  absl::StatusOr<std::string> AskWho(RemoteNode& client, const std::string& target = "who") {
    auto ref = client.Ref<WhoProtocol>(address_, target);
    if (!ref.ok()) return ref.status();
    EchoRequest request;
    auto reply = client_system_.Ask(*ref, request, absl::Seconds(5)).get();
    if (!reply.ok()) return reply.status();
    return reply->text();
  }

  std::optional<TestPki> pki_;
  ActorSystem server_system_{ActorSystemOptions{.threads = 2}};
  ActorSystem client_system_{ActorSystemOptions{.threads = 1}};
  std::unique_ptr<RemoteNode> server_;
  std::string address_;
};

TEST_F(RemoteSecurityTest, AMutualTlsLinkTellsTheReceiverTheVerifiedSendingNode) {
  Serve();
  ASSERT_THAT(server_->Export("who", server_system_.Spawn<Who>().value()), IsOk());
  auto client = Client("node-a", pki_->Files("node-a"));  // expects 127.0.0.1 of the server
  ASSERT_NE(client, nullptr);
  absl::StatusOr<std::string> who = AskWho(*client);
  ASSERT_THAT(who, IsOk());
  EXPECT_EQ(*who, "node-a|spiffe://troupe.local/node-a");
  // Expecting the server's node name at its address works too.
  RemoteNodeOptions strict_options;
  strict_options.peer_identities[address_] = "node-b";
  auto strict = Client("node-a", pki_->Files("node-a"), std::move(strict_options));
  ASSERT_NE(strict, nullptr);
  EXPECT_THAT(AskWho(*strict), IsOk());
}

TEST_F(RemoteSecurityTest, PeersWithoutAnAdmittedCertificateAreRefusedAtTheHandshake) {
  Serve();
  ASSERT_THAT(server_->Export("who", server_system_.Spawn<Who>().value()), IsOk());
  // Plaintext: the client has no TLS.
  auto plain = Client("node-a", {});
  EXPECT_THAT(AskWho(*plain), StatusIs(absl::StatusCode::kUnavailable));
  // A certificate from another CA.
  ASSERT_THAT(pki_->Make({"--ca=other", "--out=stranger", "node-a"}), IsOk());
  TlsFiles stranger = pki_->Files("stranger", "other");
  stranger.ca_file = pki_->Path("ca.pem");  // it trusts our CA; ours does not trust its
  auto foreign = Client("node-a", stranger);
  EXPECT_THAT(AskWho(*foreign), StatusIs(absl::StatusCode::kUnavailable));
  // The server is not who this client expects at that address.
  RemoteNodeOptions expect_c;
  expect_c.peer_identities[address_] = "node-c";
  auto misdirected = Client("node-a", pki_->Files("node-a"), std::move(expect_c));
  EXPECT_THAT(AskWho(*misdirected), StatusIs(absl::StatusCode::kUnavailable));
  // What was told on a refused link is a dead letter.
  auto sink = misdirected->Ref<SinkProtocol>(address_, "sink");
  ASSERT_THAT(sink, IsOk());
  sink->Tell(EchoReply());
  EXPECT_TRUE(WaitFor([&] { return misdirected->stats().dead_letters >= 1; }));
  EXPECT_GE(client_system_.dead_letters().count(DeadLetterReason::kNodeUnreachable), 1u);
  // An expired certificate: our node would not start with one, so a plain gRPC client
  // presents it.
  ASSERT_THAT(pki_->Make({"--days=-1", "--out=expired", "node-a"}), IsOk());
  grpc::experimental::TlsChannelCredentialsOptions tls;
  tls.set_certificate_provider(std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      pki_->Path("expired.key"), pki_->Path("expired.pem"), pki_->Path("ca.pem"), 1));
  tls.watch_root_certs();
  tls.watch_identity_key_cert_pairs();
  auto stub = node::Node::NewStub(
      grpc::CreateChannel(address_, grpc::experimental::TlsCredentials(tls)));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  auto stream = stub->Connect(&context);
  node::ClientFrame hello;
  hello.mutable_hello()->set_protocol_version(1);
  hello.mutable_hello()->set_node("node-a");
  stream->Write(hello);
  node::ServerFrame welcome;
  EXPECT_FALSE(stream->Read(&welcome));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server_->stats().received, 0u);
}

TEST_F(RemoteSecurityTest, AHelloClaimingAnotherNodesNameEndsTheStream) {
  Serve();
  ASSERT_THAT(server_->Export("who", server_system_.Spawn<Who>().value()), IsOk());
  auto impostor = Client("node-a", pki_->Files("node-c"));  // node-c's certificate
  absl::StatusOr<std::string> who = AskWho(*impostor);
  EXPECT_THAT(who, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_TRUE(WaitFor([&] { return server_->stats().identity_mismatches >= 1; }));
  EXPECT_EQ(server_->stats().delivered, 0u);
}

TEST_F(RemoteSecurityTest, AnExportRefusesNodesItsPolicyDoesNotAdmit) {
  Serve();
  ASSERT_THAT(server_->Export("who", server_system_.Spawn<Who>().value(),
                              {.allow = {"spiffe://troupe.local/node-a"}}),
              IsOk());
  auto a = Client("node-a", pki_->Files("node-a"));
  auto c = Client("node-c", pki_->Files("node-c"));
  EXPECT_TRUE(AskWho(*a).ok());
  EXPECT_THAT(AskWho(*c), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(server_->stats().rejected_permission, 1u);
  // Without TLS a restricted export is a configuration error.
  ActorSystem plain_system({.threads = 1});
  auto plain = RemoteNode::Start(plain_system, {.name = "plain", .listen_address = "127.0.0.1:0"});
  ASSERT_THAT(plain, IsOk());
  EXPECT_THAT((*plain)->Export("who", plain_system.Spawn<Who>().value(), {.allow = {"x"}}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(RemoteSecurityTest, AOneYearAskDeadlineIsClamped) {
  Serve({.max_ask_timeout = absl::Milliseconds(300)});
  ASSERT_THAT(server_->Export("silent", server_system_.Spawn<Silent>().value()), IsOk());
  auto client = Client("node-a", pki_->Files("node-a"), {.ask_timeout = absl::Hours(24 * 365)});
  auto ref = client->Ref<WhoProtocol>(address_, "silent");
  ASSERT_THAT(ref, IsOk());
  const absl::Time start = absl::Now();
  auto reply = client_system_.Ask(*ref, EchoRequest(), absl::Hours(24 * 365)).get();
  EXPECT_THAT(reply, StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(server_->stats().deadlines_clamped, 1u);
}

TEST_F(RemoteSecurityTest, AFloodOfAsksIsRefusedPastTheLimitWithBoundedMemory) {
  Serve({.max_asks_in_flight = 100});
  ASSERT_THAT(server_->Export("silent", server_system_.Spawn<Silent>().value()), IsOk());
  auto client = Client("node-a", pki_->Files("node-a"));
  auto ref = client->Ref<WhoProtocol>(address_, "silent");
  ASSERT_THAT(ref, IsOk());
  constexpr int kAsks = 2000;
  std::atomic<int> exhausted{0};
  for (int i = 0; i < kAsks; ++i) {
    client_system_.Ask(*ref, EchoRequest(), absl::Seconds(30),
                       [&](absl::StatusOr<EchoReply> r) {
                         if (r.status().code() == absl::StatusCode::kResourceExhausted) ++exhausted;
                       });
  }
  EXPECT_TRUE(WaitFor([&] { return exhausted.load() == kAsks - 100; }, absl::Seconds(30)))
      << exhausted.load();
  EXPECT_EQ(server_->stats().rejected_too_many_asks, static_cast<uint64_t>(kAsks - 100));
}

TEST_F(RemoteSecurityTest, AFullMailboxPausesTheLinkInsteadOfDroppingOrGrowing) {
  Serve();
  auto log = std::make_shared<SinkLog>();
  ASSERT_THAT(server_->Export("sink", server_system_.Spawn<SlowSink>(log).value()), IsOk());
  auto client = Client("node-a", pki_->Files("node-a"), {.max_unacked = 200});
  auto sink = client->Ref<SinkProtocol>(address_, "sink");
  ASSERT_THAT(sink, IsOk());
  for (int i = 0; i < 1000; ++i) sink->Tell(EchoReply());
  // The sender backs off: past 200 unacknowledged its messages are its own dead letters.
  ASSERT_TRUE(WaitFor([&] {
    const RemoteNodeStats s = client->stats();
    return s.acked + s.dead_letters == 1000;
  }, absl::Seconds(30)));
  const RemoteNodeStats sent = client->stats();
  EXPECT_GT(sent.dead_letters, 0u);
  EXPECT_TRUE(WaitFor([&] { return log->handled.load() == static_cast<int>(sent.acked); }));
  EXPECT_GT(server_->stats().paused_for_room, 0u);
  // Nothing was dropped at the full mailbox: everything acknowledged was handled.
  EXPECT_EQ(server_system_.dead_letters().count(), 0u);
}

TEST_F(RemoteSecurityTest, ListeningBeyondLoopbackWithoutTlsIsRefused) {
  ActorSystem system({.threads = 1});
  EXPECT_THAT(RemoteNode::Start(system, {.name = "open", .listen_address = "0.0.0.0:0"}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(RemoteNode::Start(system, {.name = "open",
                                         .listen_address = "0.0.0.0:0",
                                         .allow_insecure = true}),
              IsOk());
  EXPECT_THAT(RemoteNode::Start(system, {.name = "node-b",
                                         .listen_address = "0.0.0.0:0",
                                         .tls = pki_->Files("node-b")}),
              IsOk());
}

// The dialing side's rotation: node-a's certificate (from an old CA) is renewed by the main CA
// while its link is open, and the server stops trusting the old CA. The open link carries on;
// when the server restarts, the link's next connection presents the renewed certificate (the
// old one would be refused now).
TEST_F(RemoteSecurityTest, ADialingNodesRenewedCertificateIsWhatItsNextConnectionPresents) {
  ASSERT_THAT(pki_->Make({"--ca=old", "--out=live-a", "node-a"}), IsOk());
  {
    std::ofstream bundle(pki_->Path("bundle.pem"));
    bundle << ReadFile(pki_->Path("ca.pem")) << ReadFile(pki_->Path("old.pem"));
  }
  RemoteNodeOptions server_options;
  server_options.tls = pki_->Files("node-b");
  server_options.tls.ca_file = pki_->Path("bundle.pem");
  Serve(server_options);
  ASSERT_THAT(server_->Export("who", server_system_.Spawn<Who>().value()), IsOk());
  TlsFiles a = pki_->Files("live-a");
  a.ca_file = pki_->Path("bundle.pem");
  auto client = Client("node-a", a);
  ASSERT_NE(client, nullptr);
  ASSERT_THAT(AskWho(*client), IsOk());

  ASSERT_THAT(pki_->Make({"--out=next-a", "node-a"}), IsOk());
  ASSERT_EQ(std::rename(pki_->Path("next-a.key").c_str(), pki_->Path("live-a.key").c_str()), 0);
  ASSERT_EQ(std::rename(pki_->Path("next-a.pem").c_str(), pki_->Path("live-a.pem").c_str()), 0);
  {
    std::ofstream bundle(pki_->Path("bundle.tmp"));
    bundle << ReadFile(pki_->Path("ca.pem"));
  }
  ASSERT_EQ(std::rename(pki_->Path("bundle.tmp").c_str(), pki_->Path("bundle.pem").c_str()), 0);
  // Real time: gRPC's file watchers reread the files every refresh interval (1 s here).
  absl::SleepFor(absl::Milliseconds(2500));
  EXPECT_THAT(AskWho(*client), IsOk());  // the open link carries on
  const uint64_t connects = client->stats().connects;

  server_options.listen_address = address_;
  server_.reset();
  Serve(server_options);
  ASSERT_THAT(server_->Export("who", server_system_.Spawn<Who>().value()), IsOk());
  absl::StatusOr<std::string> who;
  ASSERT_TRUE(WaitFor([&] {
    who = AskWho(*client);
    return who.ok();
  }, absl::Seconds(15))) << who.status();
  EXPECT_EQ(*who, "node-a|spiffe://troupe.local/node-a");
  EXPECT_GT(client->stats().connects, connects);
}

}  // namespace
}  // namespace troupe
