// The gateway's security, on a PKI made for this run: secure by default (no plaintext beyond
// loopback unless allowed), mutual TLS, the caller's verified identity reaching the actor in
// every form (typed unary through GrpcCall, generic unary, typed and generic streams), access
// rules per service and method (PERMISSION_DENIED, counted) with a hook that sees the method,
// and certificate rotation through a running gateway. Each case runs both ways calls are
// served: the Echo service typed (AddService: gRPC's threads) and by name (AddUnary/AddStream:
// the workers' completion queues, the default).
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <fstream>
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

// A typed stream's actor answers every message with GrpcStream<EchoRequest, EchoReply>::peer().
using TypedStreamProtocol = Protocol<GrpcReceived<EchoRequest>, GrpcReadsDone>;
class TypedStreamWho : public Actor<TypedStreamWho, TypedStreamProtocol> {
 public:
  explicit TypedStreamWho(GrpcStream<EchoRequest, EchoReply> stream) : stream_(std::move(stream)) {}
  void OnStart() override { (void)stream_.Start(self()); }
  void Handle(GrpcReceived<EchoRequest>) {
    EchoReply reply;
    reply.set_text(stream_.peer().verified ? stream_.peer().name : "unverified");
    (void)stream_.Write(std::move(reply));
  }
  void Handle(GrpcReadsDone) {
    stream_.Finish();
    ctx().Stop();
  }

 private:
  GrpcStream<EchoRequest, EchoReply> stream_;
};

class WhoService final : public Echo::CallbackService {
 public:
  WhoService(ActorSystem& system, ActorRef<WhoProtocol> who) : system_(system), who_(who) {}
  grpc::ServerUnaryReactor* Say(grpc::CallbackServerContext* context, const EchoRequest* request,
                                EchoReply* reply) override {
    return AskForCall(system_, context, who_, *request, reply);
  }
  grpc::ServerBidiReactor<EchoRequest, EchoReply>* Chat(
      grpc::CallbackServerContext* context) override {
    return ServeStream<EchoRequest, EchoReply>(context, [this](auto stream) {
      (void)system_.Spawn<TypedStreamWho>(std::move(stream));
    });
  }

 private:
  ActorSystem& system_;
  ActorRef<WhoProtocol> who_;
};

// The serial number of the certificate in `pem`, in hex ("" if it does not parse).
std::string SerialOf(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) return "";
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string serial(hex);
  OPENSSL_free(hex);
  BN_free(bn);
  X509_free(cert);
  return serial;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

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

// The parameter: whether the Echo service is added typed (true: gRPC's threads) or by name.
class GatewaySecurityTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    auto pki = TestPki::Create();
    ASSERT_THAT(pki, IsOk());
    pki_.emplace(*std::move(pki));
    ASSERT_THAT(pki_->Make({"--out=intruder", "intruder"}), IsOk());  // same CA, other name
    who_ = system_.Spawn<Who>().value();
    service_ = std::make_unique<WhoService>(system_, who_);
  }
  // Adds the Echo service (Say and Chat answer with the caller's identity) the test's way.
  void AddEcho(GrpcGateway& gateway) {
    if (GetParam()) {
      EXPECT_THAT(gateway.AddService(service_.get()), IsOk());
      return;
    }
    ActorSystem* system = &system_;
    EXPECT_THAT((gateway.AddUnary<EchoRequest, EchoReply>(GrpcMethod<Echo>("Say"), who_)), IsOk());
    EXPECT_THAT((gateway.AddStream<EchoRequest, EchoReply>(
                    GrpcMethod<Echo>("Chat"),
                    [system](GrpcStream<EchoRequest, EchoReply> s) {
                      (void)system->Spawn<TypedStreamWho>(std::move(s));
                    })),
                IsOk());
  }
  absl::StatusOr<int> Start(GrpcGateway& gateway, TlsServerOptions tls = {}) {
    ActorSystem* system = &system_;
    AddEcho(gateway);
    EXPECT_THAT(gateway.AddUnary("/troupe.examples.Generic/Who", system_.Spawn<BytesWho>().value()),
                IsOk());
    EXPECT_THAT(gateway.AddStream("/troupe.examples.Generic/Stream",
                                  [system](GrpcByteStream s) {
                                    (void)system->Spawn<StreamWho>(std::move(s));
                                  }),
                IsOk());
    if (!tls.files.enabled()) tls.files = pki_->Files("server");
    return gateway.Start({.address = "127.0.0.1:0", .tls = tls});
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
  // One message on the typed Chat stream; `who` gets the answer.
  static grpc::Status Chat(const std::shared_ptr<grpc::Channel>& channel, std::string* who) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    auto stream = Echo::NewStub(channel)->Chat(&context);
    EchoReply reply;
    if (stream->Write(EchoRequest()) && stream->Read(&reply)) *who = reply.text();
    stream->WritesDone();
    return stream->Finish();
  }
  // The serial of the certificate the server presented on a new connection.
  static std::string ServerSerial(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    EchoReply reply;
    if (!Echo::NewStub(channel)->Say(&context, EchoRequest(), &reply).ok()) return "";
    const std::vector<grpc::string_ref> pem =
        context.auth_context()->FindPropertyValues("x509_pem_cert");
    return pem.empty() ? "" : SerialOf(std::string(pem[0].data(), pem[0].size()));
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
  ActorRef<WhoProtocol> who_;
  std::unique_ptr<WhoService> service_;
};

INSTANTIATE_TEST_SUITE_P(ServedBothWays, GatewaySecurityTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "TypedService" : "ByName";
                         });

TEST_P(GatewaySecurityTest, PlaintextBeyondLoopbackIsRefusedUnlessAllowed) {
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

TEST_P(GatewaySecurityTest, TheActorSeesTheVerifiedCallerInEveryForm) {
  GrpcGateway gateway(system_);
  absl::StatusOr<int> port = Start(gateway);
  ASSERT_THAT(port, IsOk());
  auto channel = Channel(*port, "client");
  std::string who;
  ASSERT_TRUE(Say(channel, &who).ok());
  EXPECT_EQ(who, "spiffe://troupe.local/client");
  ASSERT_TRUE(Generic(channel, "/troupe.examples.Generic/Who", &who).ok());
  EXPECT_EQ(who, "spiffe://troupe.local/client");
  who.clear();
  ASSERT_TRUE(Chat(channel, &who).ok());
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
  // Calls came through the workers' queues unless a typed service was added.
  const WorkerQueueStats queues = gateway.stats().queues;
  EXPECT_EQ(queues.polled + queues.handed_over > 0, !GetParam());
  // Plaintext against the TLS port fails at once.
  auto plain = grpc::CreateChannel(absl::StrCat("127.0.0.1:", *port),
                                   grpc::InsecureChannelCredentials());
  EXPECT_EQ(Say(plain, &who).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_P(GatewaySecurityTest, AccessRulesRefuseOthersWithPermissionDeniedAndCountThem) {
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
  EXPECT_EQ(Chat(intruder, &who).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Chat(client, &who).ok());
  EXPECT_EQ(gateway.stats().permission_denied, 2u);
  // A method rule beats its service's rule: Who is open to every verified peer.
  EXPECT_TRUE(Generic(intruder, "/troupe.examples.Generic/Who", &who).ok());
  EXPECT_EQ(who, "spiffe://troupe.local/intruder");
  // The service rule's hook refuses the stream's method for everyone.
  EXPECT_EQ(Generic(client, "/troupe.examples.Generic/Stream", &who).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(gateway.stats().permission_denied, 3u);
}

TEST_P(GatewaySecurityTest, ClientCertificatesCanBeOptionalAndThenCallersAreUnverified) {
  GrpcGateway gateway(system_);
  absl::StatusOr<int> port =
      Start(gateway, {.files = pki_->Files("server"),
                      .client_certificates = ClientCertificates::kOptional});
  ASSERT_THAT(port, IsOk());
  auto anonymous = MakeChannelCredentials({.files = {.ca_file = pki_->Path("ca.pem")}});
  ASSERT_THAT(anonymous, IsOk());
  std::string who;
  ASSERT_TRUE(Say(grpc::CreateChannel(absl::StrCat("127.0.0.1:", *port), *anonymous), &who).ok());
  EXPECT_EQ(who, "unverified");
  ASSERT_TRUE(Say(Channel(*port, "client"), &who).ok());
  EXPECT_EQ(who, "spiffe://troupe.local/client");
  ASSERT_TRUE(Chat(grpc::CreateChannel(absl::StrCat("127.0.0.1:", *port), *anonymous), &who).ok());
  EXPECT_EQ(who, "unverified");
}

// Rotation through a running gateway: the server's files are renamed over; within the refresh
// interval (1 s) a new connection is shown the new certificate (its serial), while a connection
// opened before keeps working; then a CA taken out of the bundle stops admitting its clients.
TEST_P(GatewaySecurityTest, RotatedCertificatesReachNewConnectionsAndARemovedCaLocksOut) {
  ASSERT_THAT(pki_->Make({"--out=live", "server"}), IsOk());
  ASSERT_THAT(pki_->Make({"--ca=old", "--out=old-client", "client"}), IsOk());
  {
    std::ofstream bundle(pki_->Path("bundle.pem"));
    bundle << ReadFile(pki_->Path("ca.pem")) << ReadFile(pki_->Path("old.pem"));
  }
  TlsFiles files = pki_->Files("live");
  files.ca_file = pki_->Path("bundle.pem");
  GrpcGateway gateway(system_);
  absl::StatusOr<int> port = Start(gateway, {.files = files});
  ASSERT_THAT(port, IsOk());
  const std::string address = absl::StrCat("127.0.0.1:", *port);
  // A channel of its own (not shared with the later ones), opened now and kept.
  grpc::ChannelArguments own;
  own.SetInt("grpc.use_local_subchannel_pool", 1);
  auto creds = MakeChannelCredentials({.files = pki_->Files("client")});
  ASSERT_THAT(creds, IsOk());
  auto kept = grpc::CreateCustomChannel(address, *creds, own);
  const std::string first = ServerSerial(kept);
  EXPECT_EQ(first, SerialOf(ReadFile(pki_->Path("live.pem"))));
  ASSERT_NE(first, "");
  auto old_creds = MakeChannelCredentials(
      {.files = {.ca_file = pki_->Path("ca.pem"), .cert_file = pki_->Path("old-client.pem"),
                 .key_file = pki_->Path("old-client.key")}});
  ASSERT_THAT(old_creds, IsOk());
  std::string who;
  ASSERT_TRUE(Say(grpc::CreateCustomChannel(address, *old_creds, own), &who).ok());

  ASSERT_THAT(pki_->Make({"--out=next", "server"}), IsOk());
  const std::string next = SerialOf(ReadFile(pki_->Path("next.pem")));
  ASSERT_NE(next, first);
  ASSERT_EQ(std::rename(pki_->Path("next.key").c_str(), pki_->Path("live.key").c_str()), 0);
  ASSERT_EQ(std::rename(pki_->Path("next.pem").c_str(), pki_->Path("live.pem").c_str()), 0);
  {
    std::ofstream bundle(pki_->Path("bundle.tmp"));
    bundle << ReadFile(pki_->Path("ca.pem"));
  }
  ASSERT_EQ(std::rename(pki_->Path("bundle.tmp").c_str(), pki_->Path("bundle.pem").c_str()), 0);
  // Real time: gRPC's file watcher rereads the files every refresh interval.
  std::string seen;
  grpc::Status old_status;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  do {
    absl::SleepFor(absl::Milliseconds(200));
    seen = ServerSerial(grpc::CreateCustomChannel(address, *creds, own));
    old_status = Say(grpc::CreateCustomChannel(address, *old_creds, own), &who);
  } while ((seen != next || old_status.ok()) && absl::Now() < deadline);
  EXPECT_EQ(seen, next) << "new connections still get the old certificate";
  EXPECT_EQ(old_status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << "the removed CA's client still gets in";
  EXPECT_EQ(ServerSerial(kept), first);  // the open connection carries on
}

}  // namespace
}  // namespace troupe
