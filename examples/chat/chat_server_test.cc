// The chat system over real TCP connections: every command and error of the protocol, one
// order for all members, a flooder paced to a slow reader while a stalled member is cut off
// (TCP on both backends, and gRPC), oversized lines and random bytes, 1000 members in one room,
// history across a restart, TCP and gRPC clients in one room, and the gRPC port over mutual TLS.
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "actors/tls/credentials.h"
#include "actors/tls/testing/test_pki.h"
#include "examples/chat/chat_server_lib.h"
#include "examples/chat/chat_test_client.h"
#include "gtest/gtest.h"
#include "io/testing/loopback_client.h"
#include "proto/chat.grpc.pb.h"

namespace troupe::chat {
namespace {

using Client = ChatTestClient;

class ChatServerTest : public ::testing::Test {
 protected:
  void StartServer(ChatServerOptions options = {}) {
    options.host = "127.0.0.1";
    if (!system_) system_ = std::make_unique<ActorSystem>(ActorSystemOptions{.threads = 2});
    auto server = ChatServer::Start(*system_, options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  void TearDown() override {
    server_.reset();
    system_.reset();
  }
  std::unique_ptr<ActorSystem> system_;
  std::unique_ptr<ChatServer> server_;
};

TEST_F(ChatServerTest, EveryCommandAndItsErrors) {
  StartServer();
  Client a(server_->port()), b(server_->port());
  a.Send("hello\n");
  a.Expect("! choose a nick first: /nick NAME");
  a.Send("/nick bad name!\n");
  a.Expect("! usage: /nick NAME (1-32 of A-Z a-z 0-9 _ -)");
  a.Send(absl::StrCat("/nick ", std::string(33, 'x'), "\n"));
  a.Expect("! usage: /nick NAME (1-32 of A-Z a-z 0-9 _ -)");
  a.Send("/join lobby\n");
  a.Expect("! choose a nick first: /nick NAME");
  a.Login("alice", "lobby");
  a.Send("/join lobby\n");
  a.Expect("! already in lobby");
  a.Send("first words\n");  // a plain line goes to the room joined last
  a.Expect("[lobby] alice: first words");

  b.Send("/nick alice\n");
  b.Expect("! nick alice is in use");
  b.Send("/nick bob\n/join lobby\n");
  b.Expect("* nick bob");
  b.Expect("* joined lobby");
  b.Expect("# [lobby] alice: first words");  // the room's history, oldest first
  a.Expect("* bob joined lobby");
  b.Send("/say lobby hi\r\n");  // a trailing \r is dropped
  a.Expect("[lobby] bob: hi");
  b.Expect("[lobby] bob: hi");
  b.Send("/say kitchen hi\n");
  b.Expect("! not in kitchen");
  b.Send("/who lobby\n/who kitchen\n/rooms\n");
  b.Expect("* who lobby alice bob");
  b.Expect("! no room kitchen");
  b.Expect("* rooms lobby");
  b.Send("/msg alice psst\n/msg nobody psst\n");
  a.Expect("[pm] bob: psst");
  b.Expect("! no user nobody");
  b.Send("/dance\n/rooms now\n\n");
  b.Expect("! unknown command /dance");
  b.Expect("! /rooms takes no argument");
  b.Expect("! empty line");
  b.Send("/nick robert\n");
  b.Expect("! leave your rooms before changing your nick");
  b.Send("/leave lobby\n/leave lobby\n");
  b.Expect("* left lobby");
  b.Expect("! not in lobby");
  a.Expect("* bob left lobby");
  b.Send("/join lobby\n");
  b.Expect("* joined lobby");
  b.Expect("# [lobby] alice: first words");
  b.Expect("# [lobby] bob: hi");
  a.Expect("* bob joined lobby");
  b.Send("/quit\n");
  b.Expect("* bye");
  b.Expect("<closed>");
  a.Expect("* bob left lobby");  // a quit leaves the rooms like a dropped connection
  a.Send("/who lobby\n");
  a.Expect("* who lobby alice");
}

TEST_F(ChatServerTest, ADroppedConnectionLeavesItsRoomsAndFreesItsNick) {
  StartServer();
  Client a(server_->port());
  a.Login("alice", "lobby");
  {
    Client b(server_->port());
    b.Login("bob", "lobby");
    a.Expect("* bob joined lobby");
  }  // closed without /quit
  a.Expect("* bob left lobby");
  Client c(server_->port());
  c.Send("/nick bob\n");
  c.Expect("* nick bob");
}

TEST_F(ChatServerTest, OversizedLinesAndRandomBytesGetAnErrorAndTheConnectionStays) {
  StartServer();
  Client a(server_->port()), b(server_->port());
  a.Login("alice", "lobby");
  b.Login("bob", "lobby");
  a.Expect("* bob joined lobby");
  b.Send(std::string(4097, 'x') + "\n");
  b.Expect("! line too long (max 4096 bytes)");
  b.Send(std::string(100000, 'y') + "\nstill here\n");  // the rest of the long line is dropped
  b.Expect("! line too long (max 4096 bytes)");
  b.Expect("[lobby] bob: still here");
  a.Expect("[lobby] bob: still here");
  b.Send(std::string(4096, 'z') + "\n");  // exactly the limit is fine
  b.Expect(absl::StrCat("[lobby] bob: ", std::string(4096, 'z')));
  a.Expect(absl::StrCat("[lobby] bob: ", std::string(4096, 'z')));

  Client garbage(server_->port());
  std::mt19937 rng(42);
  std::string noise(64 << 10, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  garbage.Send(noise);
  garbage.Send("\n/nick carol\n");
  std::string line;
  do {
    line = garbage.Line();
  } while (line != "* nick carol" && line != "<timeout>" && line != "<closed>");
  EXPECT_EQ(line, "* nick carol");
  a.Send("/who lobby\n");
  a.Expect("* who lobby alice bob");  // nothing else was disturbed
}

TEST_F(ChatServerTest, AllMembersSeeOneOrderWithTwoConcurrentSenders) {
  StartServer();
  Client a(server_->port()), b(server_->port()), c(server_->port());
  a.Login("a", "r");
  b.Login("b", "r");
  c.Login("c", "r");
  a.Expect("* b joined r");
  a.Expect("* c joined r");
  b.Expect("* c joined r");
  constexpr int kEach = 500;
  std::thread ta([&] {
    std::string batch;
    for (int i = 0; i < kEach; ++i) batch += absl::StrCat("a", i, "\n");
    a.Send(batch);
  });
  std::thread tb([&] {
    for (int i = 0; i < kEach; ++i) b.Send(absl::StrCat("b", i, "\n"));
  });
  ta.join();
  tb.join();
  std::vector<std::string> seen[3];
  Client* clients[3] = {&a, &b, &c};
  for (int k = 0; k < 3; ++k) {
    for (int i = 0; i < 2 * kEach; ++i) seen[k].push_back(clients[k]->Line());
  }
  EXPECT_EQ(seen[0], seen[1]);
  EXPECT_EQ(seen[1], seen[2]);
  int a_next = 0, b_next = 0;  // and each sender's own messages in its order
  for (const std::string& line : seen[2]) {
    if (line == absl::StrCat("[r] a: a", a_next)) ++a_next;
    if (line == absl::StrCat("[r] b: b", b_next)) ++b_next;
  }
  EXPECT_EQ(a_next, kEach);
  EXPECT_EQ(b_next, kEach);
}

// The flood of issue 19: one member sends 8000 lines of 1 KB as fast as it can (reading its
// own echo), one reads slowly (1 ms a line, like a script), one never reads. The room paces the
// flooder to the slow reader: the reader gets every line, in order, and is never cut off; the
// one that never reads is cut off once it has taken nothing for the stall timeout (shortened
// here from 30 s), and the room goes on without it. On both backends.
void FloodWithASlowAndAStalledReader(ChatServer& server) {
  Client flooder(server.port()), slow(server.port()), stalled(server.port());
  flooder.Login("flooder", "r");
  slow.Login("slow", "r");
  stalled.Login("stalled", "r");
  flooder.Expect("* slow joined r");
  flooder.Expect("* stalled joined r");
  slow.Expect("* stalled joined r");
  int small = 4096;  // the stalled client's output piles up on the server soon
  ::setsockopt(stalled.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  const std::string text(1000, 'f');
  const std::string want = absl::StrCat("[r] flooder: ", text);
  constexpr int kLines = 8000;  // 8 MB: more than the kernel buffers for a peer that never reads
  std::atomic<bool> failed{false};
  std::atomic<int> slow_got{0};
  std::thread slow_reader([&] {
    bool left = false;
    while (slow_got.load() < kLines || !left) {
      const std::string line = slow.Line(absl::Seconds(60));
      if (line == want) {
        slow_got.fetch_add(1);
        // A slow reader on purpose (1 ms a line): the room must pace the flooder to it.
        absl::SleepFor(absl::Milliseconds(1));
      } else if (line == "* stalled left r") {
        left = true;
      } else {
        ADD_FAILURE() << "slow got: " << line.substr(0, 80) << " after " << slow_got.load();
        failed = true;
        return;
      }
    }
  });
  std::thread flood([&] {
    std::string all;
    for (int i = 0; i < kLines; ++i) absl::StrAppend(&all, text, "\n");
    flooder.Send(all);  // blocks while the room paces it
  });
  int echoed = 0;
  bool saw_left = false;
  while ((echoed < kLines || !saw_left) && !failed.load()) {
    const std::string line = flooder.Line(absl::Seconds(60));
    if (line == want) {
      ++echoed;
    } else if (line == "* stalled left r") {
      saw_left = true;
    } else {
      ADD_FAILURE() << "flooder got: " << line.substr(0, 80) << " after " << echoed;
      failed = true;
    }
  }
  if (failed.load()) ::shutdown(slow.fd(), SHUT_RDWR);  // unblocks the slow reader
  flood.join();
  slow_reader.join();
  ASSERT_FALSE(failed.load());
  EXPECT_EQ(slow_got.load(), kLines);
  EXPECT_EQ(server.members_cut_off(), 1u);
  flooder.Send("/who r\n");
  flooder.Expect("* who r flooder slow");
}

class ChatFloodTest : public ::testing::TestWithParam<IoBackendKind> {};

TEST_P(ChatFloodTest, ARoomPacesAFlooderToItsReadersAndCutsOffOnlyTheStalledOne) {
  ActorSystemOptions system_options{.threads = 2};
  system_options.io.kind = GetParam();
  system_options.io.log_choice = false;
  auto system = ActorSystem::Create(system_options);
  if (!system.ok() && system.status().code() == absl::StatusCode::kUnimplemented) {
    GTEST_SKIP() << system.status();
  }
  ASSERT_TRUE(system.ok()) << system.status();
  auto server = ChatServer::Start(**system, {.host = "127.0.0.1",
                                             .output_stall_timeout = absl::Seconds(3),
                                             .output_pace_timeout = absl::Seconds(1)});
  ASSERT_TRUE(server.ok()) << server.status();
  FloodWithASlowAndAStalledReader(**server);
}

INSTANTIATE_TEST_SUITE_P(Backends, ChatFloodTest,
                         ::testing::Values(IoBackendKind::kEpoll, IoBackendKind::kUring),
                         [](const auto& info) {
                           return std::string(IoBackendKindName(info.param));
                         });

// The same rule for gRPC members: one that never reads its stream is cut off (its call
// cancelled) while a TCP member that reads gets everything.
TEST_F(ChatServerTest, AGrpcMemberThatNeverReadsIsCutOff) {
  StartServer({.grpc_port = 0,
               .output_stall_timeout = absl::Seconds(3),
               .output_pace_timeout = absl::Seconds(1)});
  Client flooder(server_->port());
  flooder.Login("flooder", "g");
  auto stub = Chat::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->grpc_port()),
                                                grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->Connect(&context);
  ClientEvent event;
  event.set_nick("deaf");
  ASSERT_TRUE(stream->Write(event));
  event.set_join("g");
  ASSERT_TRUE(stream->Write(event));
  flooder.Expect("* deaf joined g");  // from now on the gRPC client reads nothing
  const std::string text(1000, 'g');
  std::thread flood([&] {
    std::string all;
    for (int i = 0; i < 3000; ++i) absl::StrAppend(&all, text, "\n");
    flooder.Send(all);
  });
  int echoed = 0;
  bool saw_left = false;
  while (echoed < 3000 || !saw_left) {
    const std::string line = flooder.Line(absl::Seconds(60));
    if (line == absl::StrCat("[g] flooder: ", text)) {
      ++echoed;
    } else if (line == "* deaf left g") {
      saw_left = true;
    } else {
      ADD_FAILURE() << "flooder got: " << line.substr(0, 80) << " after " << echoed;
      break;
    }
  }
  flood.join();
  EXPECT_EQ(server_->members_cut_off(), 1u);
  ServerEvent got;
  while (stream->Read(&got)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(ChatServerTest, AThousandMembersInOneRoom) {
  rlimit lim;
  ::getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < 4096 && lim.rlim_max >= 4096) {
    lim.rlim_cur = 4096;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  StartServer();
  constexpr int kMembers = 1000;
  std::vector<std::unique_ptr<Client>> members;
  for (int i = 0; i < kMembers; ++i) {
    members.push_back(std::make_unique<Client>(server_->port()));
    ASSERT_TRUE(members.back()->ok());
    members.back()->Send(absl::StrCat("/nick m", i, "\n/join big\n"));
  }
  for (int i = 0; i < kMembers; ++i) {
    members[i]->Expect(absl::StrCat("* nick m", i));
    members[i]->Expect("* joined big");
  }
  Client speaker(server_->port());
  speaker.Login("speaker", "big");
  speaker.Send("hello everyone\n");
  speaker.Expect("[big] speaker: hello everyone");
  for (int i = 0; i < kMembers; ++i) {
    std::string line;
    do {
      line = members[i]->Line();  // skips the "* mJ joined big" of later members
    } while (line != "[big] speaker: hello everyone" && line != "<timeout>");
    ASSERT_EQ(line, "[big] speaker: hello everyone") << "member " << i;
  }
}

TEST_F(ChatServerTest, HistorySurvivesARestart) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/chat_history_", ::getpid());
  std::filesystem::remove_all(dir);
  StartServer({.history_dir = dir});
  {
    Client a(server_->port());
    a.Login("alice", "lobby");
    for (int i = 0; i < 150; ++i) a.Send(absl::StrCat("message ", i, "\n"));
    for (int i = 0; i < 150; ++i) a.Expect(absl::StrCat("[lobby] alice: message ", i));
  }
  EXPECT_EQ(server_->Stop(), 0);  // as on SIGTERM: everything said is on disk
  server_.reset();
  system_.reset();

  StartServer({.history_dir = dir});  // a new server on the same directory
  Client b(server_->port());
  b.Login("bob", "lobby");
  for (int i = 50; i < 150; ++i) b.Expect(absl::StrCat("# [lobby] alice: message ", i));
  b.Send("/rooms\n");
  b.Expect("* rooms lobby");
  std::filesystem::remove_all(dir);
}

TEST_F(ChatServerTest, TcpAndGrpcClientsMeetInOneRoom) {
  StartServer({.grpc_port = 0});
  Client tcp(server_->port());
  tcp.Login("tcp", "mixed");
  auto stub = Chat::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->grpc_port()),
                                                grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->Connect(&context);
  ClientEvent event;
  event.set_nick("grpc");
  ASSERT_TRUE(stream->Write(event));
  event.set_join("mixed");
  ASSERT_TRUE(stream->Write(event));
  ServerEvent got;
  ASSERT_TRUE(stream->Read(&got));
  EXPECT_EQ(got.line(), "* nick grpc");
  ASSERT_TRUE(stream->Read(&got));
  EXPECT_EQ(got.line(), "* joined mixed");
  tcp.Expect("* grpc joined mixed");
  event.mutable_say()->set_text("hello from grpc");
  ASSERT_TRUE(stream->Write(event));
  ASSERT_TRUE(stream->Read(&got));
  EXPECT_EQ(got.kind(), ServerEvent::ROOM);
  EXPECT_EQ(got.room(), "mixed");
  EXPECT_EQ(got.nick(), "grpc");
  EXPECT_EQ(got.text(), "hello from grpc");
  tcp.Expect("[mixed] grpc: hello from grpc");
  tcp.Send("hello from tcp\n");
  tcp.Expect("[mixed] tcp: hello from tcp");
  ASSERT_TRUE(stream->Read(&got));
  EXPECT_EQ(got.line(), "[mixed] tcp: hello from tcp");
  event.mutable_msg()->set_nick("tcp");
  event.mutable_msg()->set_text("psst");
  ASSERT_TRUE(stream->Write(event));
  tcp.Expect("[pm] grpc: psst");
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  tcp.Expect("* grpc left mixed");
}

// The gRPC port with --tls_cert/--tls_key/--tls_ca: a member with a certificate the CA admits
// chats; plaintext and a client without a certificate are refused at the handshake.
TEST_F(ChatServerTest, TheGrpcPortOverMutualTlsAdmitsCertifiedMembersOnly) {
  auto pki = testing::TestPki::Create();
  ASSERT_TRUE(pki.ok()) << pki.status();
  StartServer({.grpc_port = 0, .grpc_tls = {.files = pki->Files("server")}});
  const std::string address = absl::StrCat("127.0.0.1:", server_->grpc_port());
  auto certified = MakeChannelCredentials({.files = pki->Files("client")});
  ASSERT_TRUE(certified.ok()) << certified.status();
  auto stub = Chat::NewStub(grpc::CreateChannel(address, *certified));
  grpc::ClientContext context;
  auto stream = stub->Connect(&context);
  ClientEvent event;
  event.set_nick("secure");
  ASSERT_TRUE(stream->Write(event));
  ServerEvent got;
  ASSERT_TRUE(stream->Read(&got));
  EXPECT_EQ(got.line(), "* nick secure");
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());

  auto anonymous = MakeChannelCredentials({.files = {.ca_file = pki->Path("ca.pem")}});
  ASSERT_TRUE(anonymous.ok()) << anonymous.status();
  for (auto creds : {grpc::InsecureChannelCredentials(), *anonymous}) {
    grpc::ClientContext refused_context;
    refused_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    auto refused = Chat::NewStub(grpc::CreateChannel(address, creds))->Connect(&refused_context);
    (void)refused->Write(event);
    EXPECT_FALSE(refused->Read(&got));
    EXPECT_EQ(refused->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  }
}

}  // namespace
}  // namespace troupe::chat
