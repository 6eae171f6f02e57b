// TLS credentials on a real gRPC server and client, on a PKI made for this run: bad files are
// clear start-up errors; a client without a certificate, with one from another CA, with an
// expired one, or expecting another identity is refused at the handshake; plaintext against a
// TLS port fails cleanly; the server sees the verified identity; rotated files are used by new
// connections while open ones carry on; a CA removed from the bundle stops admitting its
// clients; and the secure-by-default listening rule.
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "actors/tls/credentials.h"
#include "actors/tls/peer_identity.h"
#include "actors/tls/testing/test_pki.h"
#include "actors/tls/tls_options.h"
#include "framework/base/status_matchers.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "gtest/gtest.h"
#include "proto/echo.grpc.pb.h"

namespace troupe {
namespace {

using ::troupe::testing::IsOk;
using ::troupe::testing::StatusIs;
using ::troupe::testing::TestPki;
using examples::Echo;
using examples::EchoReply;
using examples::EchoRequest;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Answers Say with the caller's identity as this server saw it.
class WhoAmI final : public Echo::CallbackService {
  grpc::ServerUnaryReactor* Say(grpc::CallbackServerContext* context, const EchoRequest*,
                                EchoReply* reply) override {
    const PeerIdentity peer = PeerIdentityOf(*context);
    reply->set_text(peer.verified ? peer.name : "unverified");
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = TestPki::Create();
    ASSERT_THAT(pki, IsOk());
    pki_.emplace(*std::move(pki));
  }
  void Serve(TlsServerOptions options) {
    auto creds = MakeServerCredentials(options);
    ASSERT_THAT(creds, IsOk());
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  }
  // Calls Say on a new channel; `who` gets the server's answer.
  grpc::Status Call(std::shared_ptr<grpc::ChannelCredentials> creds, std::string* who = nullptr,
                    std::string* server_pem = nullptr) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);  // a new connection for each channel
    auto stub = Echo::NewStub(
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_), creds, args));
    return CallOn(*stub, who, server_pem);
  }
  static grpc::Status CallOn(Echo::Stub& stub, std::string* who = nullptr,
                             std::string* server_pem = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    EchoRequest request;
    EchoReply reply;
    grpc::Status status = stub.Say(&context, request, &reply);
    if (who != nullptr) *who = reply.text();
    if (server_pem != nullptr && context.auth_context() != nullptr) {
      auto pem = context.auth_context()->FindPropertyValues("x509_pem_cert");
      if (!pem.empty()) *server_pem = std::string(pem[0].data(), pem[0].size());
    }
    return status;
  }
  std::shared_ptr<grpc::ChannelCredentials> Client(const std::string& name,
                                                   const std::string& ca = "ca",
                                                   std::string expected = "") {
    auto creds = MakeChannelCredentials({.files = pki_->Files(name, ca),
                                         .expected_identity = std::move(expected)});
    EXPECT_THAT(creds, IsOk());
    return creds.ok() ? *creds : nullptr;
  }
  // Credentials built with gRPC directly, skipping our start-up checks (to present a
  // certificate CheckTlsFiles would refuse, such as an expired one).
  std::shared_ptr<grpc::ChannelCredentials> RawClient(const std::string& cert) {
    grpc::experimental::TlsChannelCredentialsOptions tls;
    tls.set_certificate_provider(
        std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
            pki_->Path(cert + ".key"), pki_->Path(cert + ".pem"), pki_->Path("ca.pem"), 1));
    tls.watch_root_certs();
    tls.watch_identity_key_cert_pairs();
    return grpc::experimental::TlsCredentials(tls);
  }

  std::optional<TestPki> pki_;
  WhoAmI service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(TlsTest, BadFilesAreClearErrorsAtStartUp) {
  TlsFiles good = pki_->Files("server");
  TlsFiles missing = good;
  missing.cert_file = pki_->Path("nope.pem");
  EXPECT_THAT(CheckTlsFiles(missing, true), StatusIs(absl::StatusCode::kInvalidArgument));
  TlsFiles not_pem = good;
  not_pem.ca_file = good.key_file;  // a key where the CA bundle should be
  EXPECT_THAT(CheckTlsFiles(not_pem, true), StatusIs(absl::StatusCode::kInvalidArgument));
  TlsFiles wrong_key = good;
  wrong_key.key_file = pki_->Path("client.key");
  absl::Status s = CheckTlsFiles(wrong_key, true);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(s.message().find("does not belong"), std::string::npos) << s;
  ASSERT_THAT(pki_->Make({"--days=-1", "--out=expired", "server"}), IsOk());
  EXPECT_THAT(CheckTlsFiles(pki_->Files("expired"), true),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MakeServerCredentials({.files = wrong_key}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CheckTlsFiles(good, true), IsOk());
}

TEST_F(TlsTest, AVerifiedClientIsSeenWithItsIdentity) {
  Serve({.files = pki_->Files("server")});
  std::string who;
  ASSERT_TRUE(Call(Client("client"), &who).ok());
  EXPECT_EQ(who, "spiffe://troupe.local/client");
}

TEST_F(TlsTest, ClientsWithoutAnAdmittedCertificateAreRefusedAtTheHandshake) {
  Serve({.files = pki_->Files("server")});
  // No client certificate.
  auto anonymous = MakeChannelCredentials({.files = {.ca_file = pki_->Path("ca.pem")}});
  ASSERT_THAT(anonymous, IsOk());
  EXPECT_EQ(Call(*anonymous).error_code(), grpc::StatusCode::UNAVAILABLE);
  // A certificate from another CA (the client trusts our server's CA, the server not its).
  ASSERT_THAT(pki_->Make({"--ca=other", "--out=stranger", "client"}), IsOk());
  auto stranger = MakeChannelCredentials(
      {.files = {.ca_file = pki_->Path("ca.pem"), .cert_file = pki_->Path("stranger.pem"),
                 .key_file = pki_->Path("stranger.key")}});
  ASSERT_THAT(stranger, IsOk());
  EXPECT_EQ(Call(*stranger).error_code(), grpc::StatusCode::UNAVAILABLE);
  // An expired certificate from our CA.
  ASSERT_THAT(pki_->Make({"--days=-1", "--out=expired", "client"}), IsOk());
  EXPECT_EQ(Call(RawClient("expired")).error_code(), grpc::StatusCode::UNAVAILABLE);
  // Plaintext against the TLS port.
  EXPECT_EQ(Call(grpc::InsecureChannelCredentials()).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // And a good one still gets in.
  EXPECT_TRUE(Call(Client("client")).ok());
}

TEST_F(TlsTest, AServerWithTheWrongIdentityIsRefused) {
  Serve({.files = pki_->Files("node-b")});
  EXPECT_TRUE(Call(Client("client", "ca", "node-b")).ok());
  EXPECT_TRUE(Call(Client("client", "ca", "spiffe://troupe.local/node-b")).ok());
  EXPECT_EQ(Call(Client("client", "ca", "node-c")).error_code(), grpc::StatusCode::UNAVAILABLE);
  // By default the certificate must name the host dialed: ours names 127.0.0.1, this one not.
  ASSERT_THAT(pki_->Make({"--no_loopback", "--out=elsewhere", "node-b"}), IsOk());
  server_->Shutdown();
  Serve({.files = pki_->Files("elsewhere")});
  EXPECT_EQ(Call(Client("client")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(Call(Client("client", "ca", "node-b")).ok());
}

// Rotation: the server's files are replaced (renamed over); within the refresh interval new
// connections get the new certificate; the connection opened before keeps working.
TEST_F(TlsTest, RotatedFilesServeNewConnectionsWhileOpenOnesCarryOn) {
  ASSERT_THAT(pki_->Make({"--out=live", "server"}), IsOk());
  Serve({.files = pki_->Files("live")});
  grpc::ChannelArguments args;
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  auto open_stub = Echo::NewStub(
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_), Client("client"), args));
  std::string first_pem;
  ASSERT_TRUE(CallOn(*open_stub, nullptr, &first_pem).ok());
  EXPECT_EQ(first_pem, ReadAll(pki_->Path("live.pem")));
  ASSERT_THAT(pki_->Make({"--out=next", "server"}), IsOk());
  ASSERT_EQ(std::rename(pki_->Path("next.key").c_str(), pki_->Path("live.key").c_str()), 0);
  ASSERT_EQ(std::rename(pki_->Path("next.pem").c_str(), pki_->Path("live.pem").c_str()), 0);
  const std::string next_pem = ReadAll(pki_->Path("live.pem"));
  ASSERT_NE(next_pem, first_pem);
  std::string seen;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (seen != next_pem && absl::Now() < deadline) {
    // Real time: gRPC's file watcher rereads the files every refresh interval.
    absl::SleepFor(absl::Milliseconds(200));
    ASSERT_TRUE(Call(Client("client"), nullptr, &seen).ok());
  }
  EXPECT_EQ(seen, next_pem) << "new connections still get the old certificate";
  std::string still;
  EXPECT_TRUE(CallOn(*open_stub, nullptr, &still).ok());  // the open connection carries on
  EXPECT_EQ(still, first_pem);
}

TEST_F(TlsTest, ACaRemovedFromTheBundleStopsAdmittingItsClients) {
  ASSERT_THAT(pki_->Make({"--ca=old", "--out=old-client", "client"}), IsOk());
  {
    std::ofstream bundle(pki_->Path("bundle.pem"));
    bundle << ReadAll(pki_->Path("ca.pem")) << ReadAll(pki_->Path("old.pem"));
  }
  TlsFiles files = pki_->Files("server");
  files.ca_file = pki_->Path("bundle.pem");
  Serve({.files = files});
  auto old_client = MakeChannelCredentials(
      {.files = {.ca_file = pki_->Path("ca.pem"), .cert_file = pki_->Path("old-client.pem"),
                 .key_file = pki_->Path("old-client.key")}});
  ASSERT_THAT(old_client, IsOk());
  ASSERT_TRUE(Call(*old_client).ok());
  {
    std::ofstream bundle(pki_->Path("bundle.tmp"));
    bundle << ReadAll(pki_->Path("ca.pem"));
  }
  ASSERT_EQ(std::rename(pki_->Path("bundle.tmp").c_str(), pki_->Path("bundle.pem").c_str()), 0);
  grpc::Status status;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  do {
    // Real time: gRPC's file watcher rereads the files every refresh interval.
    absl::SleepFor(absl::Milliseconds(200));
    status = Call(*old_client);
  } while (status.ok() && absl::Now() < deadline);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(Call(Client("client")).ok());  // the remaining CA's clients still get in
}

TEST(ListenSecurityTest, PlaintextIsForLoopbackOnlyUnlessAllowedExplicitly) {
  for (const char* local : {"127.0.0.1:7000", "127.5.0.1:1", "[::1]:80", "::1", "localhost:9",
                            "unix:/tmp/sock"}) {
    EXPECT_TRUE(IsLoopbackAddress(local)) << local;
    EXPECT_THAT(CheckListenSecurity("test", local, false, false), IsOk()) << local;
  }
  for (const char* open : {"0.0.0.0:7000", "[::]:80", "10.0.0.2:1", "example.com:443", ":80"}) {
    EXPECT_FALSE(IsLoopbackAddress(open)) << open;
    absl::Status s = CheckListenSecurity("test", open, false, false);
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition)) << open;
    EXPECT_NE(s.message().find("allow_insecure"), std::string::npos);
    EXPECT_THAT(CheckListenSecurity("test", open, true, false), IsOk()) << open;
    EXPECT_THAT(CheckListenSecurity("test", open, false, true), IsOk()) << open;
  }
}

}  // namespace
}  // namespace troupe
