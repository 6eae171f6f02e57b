// The gateway's security, on a PKI made for this run: secure by default (no plaintext beyond
// loopback unless allowed), mutual TLS, the caller's verified identity reaching the actor in
// every form (typed unary through GrpcCall, generic unary, streams), access rules per service
// and method (PERMISSION_DENIED, counted) with a hook that sees the method.
#include <future>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "actors/grpc/gateway.h"
#include "actors/grpc/unary_call.h"
#include "actors/tls/credentials.h"
#include "actors/tls/testing/test_pki.h"
#include "framework/base/status_matchers.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "proto/echo.grpc.pb.h"

namespace troupe {
namespace {

using examples::Echo;
using examples::EchoReply;
using examples::EchoRequest;
using ::troupe::testing::IsOk;
using ::troupe::testing::StatusIs;
using ::troupe::testing::TestPki;

// Answers Say with who asked (the typed form: GrpcCall<EchoRequest>).
using WhoProtocol = Protocol<Request<GrpcCall<EchoRequest>, EchoReply>>;
class Who : public Actor<Who, WhoProtocol> {
 public:
  EchoReply Handle(GrpcCall<EchoRequest> call) {
    EchoReply reply;
    reply.set_text(call.peer.verified ? call.peer.name : "unverified");
    return reply;
  }
};

class WhoService final : public Echo::CallbackService {
 public:
  WhoService(ActorSystem& system, ActorRef<WhoProtocol> who) : system_(system), who_(who) {}
  grpc::ServerUnaryReactor* Say(grpc::CallbackServerContext* context, const EchoRequest* request,
                                EchoReply* reply) override {
    return AskForCall(system_, context, who_, *request, reply);
  }

 private:
  ActorSystem& system_;
  ActorRef<WhoProtocol> who_;
};

// The generic form: answers with the caller's identity from GrpcBytes::peer.
using BytesProtocol = Protocol<Request<GrpcBytes, std::string>>;
class BytesWho : public Actor<BytesWho, BytesProtocol> {
 public:
  std::string Handle(GrpcBytes call) {
    EchoReply reply;
    reply.set_text(call.peer.name);
    return reply.SerializeAsString();
  }
};

// A stream's actor answers its first message with GrpcStream::peer().
using StreamProtocol = Protocol<GrpcReceived<grpc::ByteBuffer>, GrpcReadsDone>;
class StreamWho : public Actor<StreamWho, StreamProtocol> {
 public:
  explicit StreamWho(GrpcByteStream stream) : stream_(std::move(stream)) {}
  void OnStart() override { (void)stream_.Start(self()); }
  void Handle(GrpcReceived<grpc::ByteBuffer>) {
    EchoReply reply;
    reply.set_text(stream_.peer().name);
    (void)stream_.Write(ToByteBuffer(reply.SerializeAsString()));
  }
  void Handle(GrpcReadsDone) {
    stream_.Finish();
    ctx().Stop();
  }

 private:
  GrpcByteStream stream_;
};

class GatewaySecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = TestPki::Create();
    ASSERT_THAT(pki, IsOk());
    pki_.emplace(*std::move(pki));
    ASSERT_THAT(pki_->Make({"--out=intruder", "intruder"}), IsOk());  // same CA, other name
    service_ = std::make_unique<WhoService>(system_, system_.Spawn<Who>().value());
  }
  absl::StatusOr<int> Start(GrpcGateway& gateway) {
    ActorSystem* system = &system_;
    EXPECT_THAT(gateway.AddService(service_.get()), IsOk());
    EXPECT_THAT(gateway.AddUnary("/troupe.examples.Generic/Who", system_.Spawn<BytesWho>().value()),
                IsOk());
    EXPECT_THAT(gateway.AddStream("/troupe.examples.Generic/Stream",
                                  [system](GrpcByteStream s) {
                                    (void)system->Spawn<StreamWho>(std::move(s));
                                  }),
                IsOk());
    return gateway.Start({.address = "127.0.0.1:0", .tls = {.files = pki_->Files("server")}});
  }
  std::shared_ptr<grpc::Channel> Channel(int port, const std::string& cert) {
    auto creds = MakeChannelCredentials({.files = pki_->Files(cert)});
    EXPECT_THAT(creds, IsOk());
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), *creds);
  }
  static grpc::Status Say(const std::shared_ptr<grpc::Channel>& channel, std::string* who) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    EchoRequest request;
    EchoReply reply;
    grpc::Status status = Echo::NewStub(channel)->Say(&context, request, &reply);
    *who = reply.text();
    return status;
  }
  static grpc::Status Generic(const std::shared_ptr<grpc::Channel>& channel,
                              const std::string& method, std::string* who) {
    grpc::GenericStub stub(channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    const grpc::ByteBuffer request = ToByteBuffer(EchoRequest().SerializeAsString());
    grpc::ByteBuffer reply;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &reply,
                   [&](grpc::Status s) { done.set_value(s); });
    grpc::Status status = done.get_future().get();
    EchoReply parsed;
    if (status.ok() && parsed.ParseFromString(ToBytes(reply))) *who = parsed.text();
    return status;
  }

  std::optional<TestPki> pki_;
  ActorSystem system_{ActorSystemOptions{.threads = 2}};
  std::unique_ptr<WhoService> service_;
};

TEST_F(GatewaySecurityTest, PlaintextBeyondLoopbackIsRefusedUnlessAllowed) {
  GrpcGateway gateway(system_);
  absl::StatusOr<int> port = gateway.Start({.address = "0.0.0.0:0"});
  EXPECT_THAT(port, StatusIs(absl::StatusCode::kFailedPrecondition));
  GrpcGateway allowed(system_);
  ASSERT_THAT(allowed.AddUnary("/x.Y/Z", system_.Spawn<BytesWho>().value()), IsOk());
  EXPECT_THAT(allowed.Start({.address = "0.0.0.0:0", .allow_insecure = true}), IsOk());
  GrpcGateway with_tls(system_);
  ASSERT_THAT(with_tls.AddUnary("/x.Y/Z", system_.Spawn<BytesWho>().value()), IsOk());
  EXPECT_THAT(with_tls.Start({.address = "0.0.0.0:0", .tls = {.files = pki_->Files("server")}}),
              IsOk());
  GrpcGateway rules_without_tls(system_);
  ASSERT_THAT(rules_without_tls.Restrict("", {.allow = {"client"}}), IsOk());
  EXPECT_THAT(rules_without_tls.Start({.address = "127.0.0.1:0"}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(GatewaySecurityTest, TheActorSeesTheVerifiedCallerInEveryForm) {
  GrpcGateway gateway(system_);
  absl::StatusOr<int> port = Start(gateway);
  ASSERT_THAT(port, IsOk());
  auto channel = Channel(*port, "client");
  std::string who;
  ASSERT_TRUE(Say(channel, &who).ok());
  EXPECT_EQ(who, "spiffe://troupe.local/client");
  ASSERT_TRUE(Generic(channel, "/troupe.examples.Generic/Who", &who).ok());
  EXPECT_EQ(who, "spiffe://troupe.local/client");
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&context, "/troupe.examples.Generic/Stream", &cq);
  void* tag;
  bool ok;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  call->Write(ToByteBuffer(""), reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::ByteBuffer reply;
  call->Read(&reply, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  EchoReply parsed;
  ASSERT_TRUE(parsed.ParseFromString(ToBytes(reply)));
  EXPECT_EQ(parsed.text(), "spiffe://troupe.local/client");
  call->WritesDone(reinterpret_cast<void*>(4));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_TRUE(status.ok()) << status.error_message();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  // Plaintext against the TLS port fails at once.
  auto plain = grpc::CreateChannel(absl::StrCat("127.0.0.1:", *port),
                                   grpc::InsecureChannelCredentials());
  EXPECT_EQ(Say(plain, &who).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GatewaySecurityTest, AccessRulesRefuseOthersWithPermissionDeniedAndCountThem) {
  GrpcGateway gateway(system_);
  // The Echo service only for the client; its generic Who method for anyone; the stream only
  // when the hook (which sees the method) agrees.
  ASSERT_THAT(gateway.Restrict("troupe.examples.Echo", {.allow = {"spiffe://troupe.local/client"}}),
              IsOk());
  ASSERT_THAT(gateway.Restrict("/troupe.examples.Generic/Who", {}), IsOk());
  ASSERT_THAT(gateway.Restrict("troupe.examples.Generic",
                               {.check = [](const PeerIdentity& peer, std::string_view method) {
                                  return peer.Is("intruder") && method.ends_with("/Nothing");
                                }}),
              IsOk());
  EXPECT_THAT(gateway.Restrict("troupe.examples.Echo", {}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(gateway.Restrict("not/a/scope", {}), StatusIs(absl::StatusCode::kInvalidArgument));
  absl::StatusOr<int> port = Start(gateway);
  ASSERT_THAT(port, IsOk());
  auto client = Channel(*port, "client");
  auto intruder = Channel(*port, "intruder");
  std::string who;
  EXPECT_TRUE(Say(client, &who).ok());
  grpc::Status refused = Say(intruder, &who);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(refused.error_message().find("intruder"), std::string::npos);
  EXPECT_EQ(gateway.stats().permission_denied, 1u);
  // A method rule beats its service's rule: Who is open to every verified peer.
  EXPECT_TRUE(Generic(intruder, "/troupe.examples.Generic/Who", &who).ok());
  EXPECT_EQ(who, "spiffe://troupe.local/intruder");
  // The service rule's hook refuses the stream's method for everyone.
  EXPECT_EQ(Generic(client, "/troupe.examples.Generic/Stream", &who).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(gateway.stats().permission_denied, 2u);
}

TEST_F(GatewaySecurityTest, ClientCertificatesCanBeOptionalAndThenCallersAreUnverified) {
  GrpcGateway gateway(system_);
  EXPECT_THAT(gateway.AddService(service_.get()), IsOk());
  absl::StatusOr<int> port =
      gateway.Start({.address = "127.0.0.1:0",
                     .tls = {.files = pki_->Files("server"),
                             .client_certificates = ClientCertificates::kOptional}});
  ASSERT_THAT(port, IsOk());
  auto anonymous = MakeChannelCredentials({.files = {.ca_file = pki_->Path("ca.pem")}});
  ASSERT_THAT(anonymous, IsOk());
  std::string who;
  ASSERT_TRUE(Say(grpc::CreateChannel(absl::StrCat("127.0.0.1:", *port), *anonymous), &who).ok());
  EXPECT_EQ(who, "unverified");
  ASSERT_TRUE(Say(Channel(*port, "client"), &who).ok());
  EXPECT_EQ(who, "spiffe://troupe.local/client");
}

}  // namespace
}  // namespace troupe
