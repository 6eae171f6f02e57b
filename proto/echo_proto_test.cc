// The proto macro's output: messages round-trip through the wire format, and the generated
// gRPC service links (a channel-less stub and the async service type are usable).
#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/echo.grpc.pb.h"
#include "proto/echo.pb.h"

namespace troupe::examples {
namespace {

TEST(EchoProtoTest, MessagesRoundTripThroughTheWire) {
  EchoRequest request;
  request.set_text("hello, actors");
  request.set_delay_ms(250);
  std::string wire;
  ASSERT_TRUE(request.SerializeToString(&wire));
  EchoRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  EXPECT_EQ(parsed.text(), "hello, actors");
  EXPECT_EQ(parsed.delay_ms(), 250u);
  // Garbage is rejected, not half-parsed into something.
  EchoReply reply;
  EXPECT_FALSE(reply.ParseFromString(std::string("\xff\xff\xff\xff\xff", 5)));
}

TEST(EchoProtoTest, TheGeneratedServiceDescribesBothMethods) {
  const auto* service = EchoRequest::descriptor()->file()->FindServiceByName("Echo");
  ASSERT_NE(service, nullptr);
  EXPECT_NE(service->FindMethodByName("Say"), nullptr);
  const auto* chat = service->FindMethodByName("Chat");
  ASSERT_NE(chat, nullptr);
  EXPECT_TRUE(chat->client_streaming());
  EXPECT_TRUE(chat->server_streaming());
  Echo::CallbackService callback_service;  // the gateway will derive from this
  auto channel = grpc::CreateChannel("localhost:1", grpc::InsecureChannelCredentials());
  std::unique_ptr<Echo::Stub> stub = Echo::NewStub(channel);
  EXPECT_NE(stub, nullptr);
}

}  // namespace
}  // namespace troupe::examples
