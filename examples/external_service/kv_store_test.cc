// The store through its gRPC API, as a client sees it: get/put/delete, and watches.
#include "kv_store.h"

#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "actors/grpc/gateway.h"
#include "gtest/gtest.h"
#include "kv_service.h"

namespace kv {
namespace {

class KvStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(AddKvMethods(gateway_, system_.Spawn<KvStore>().value()).ok());
    auto port = gateway_.Start({.address = "127.0.0.1:0"});
    ASSERT_TRUE(port.ok()) << port.status();
    stub_ = KeyValue::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", *port),
                                                  grpc::InsecureChannelCredentials()));
  }

  grpc::Status Put(const std::string& key, const std::string& value, PutReply* reply = nullptr) {
    grpc::ClientContext context;
    PutRequest request;
    request.set_key(key);
    request.set_value(value);
    PutReply ignored;
    return stub_->Put(&context, request, reply != nullptr ? reply : &ignored);
  }
  grpc::Status Delete(const std::string& key, DeleteReply* reply) {
    grpc::ClientContext context;
    DeleteRequest request;
    request.set_key(key);
    return stub_->Delete(&context, request, reply);
  }
  grpc::Status Get(const std::string& key, GetReply* reply) {
    grpc::ClientContext context;
    GetRequest request;
    request.set_key(key);
    return stub_->Get(&context, request, reply);
  }
  static std::string Describe(const WatchEvent& e) {
    switch (e.kind()) {
      case WatchEvent::PUT:
        return absl::StrCat("put ", e.key(), "=", e.value());
      case WatchEvent::DELETE:
        return absl::StrCat("delete ", e.key());
      default:
        return "snapshot done";
    }
  }

  troupe::ActorSystem system_{{.threads = 2}};
  troupe::GrpcGateway gateway_{system_};
  std::unique_ptr<KeyValue::Stub> stub_;
};

TEST_F(KvStoreTest, PutGetDelete) {
  PutReply put;
  ASSERT_TRUE(Put("k", "v1", &put).ok());
  EXPECT_FALSE(put.replaced());
  ASSERT_TRUE(Put("k", "v2", &put).ok());
  EXPECT_TRUE(put.replaced());
  GetReply got;
  ASSERT_TRUE(Get("k", &got).ok());
  EXPECT_TRUE(got.found());
  EXPECT_EQ(got.value(), "v2");
  DeleteReply deleted;
  ASSERT_TRUE(Delete("k", &deleted).ok());
  EXPECT_TRUE(deleted.deleted());
  ASSERT_TRUE(Get("k", &got).ok());
  EXPECT_FALSE(got.found());
  EXPECT_EQ(Put("", "v").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(KvStoreTest, AWatchSeesTheSnapshotThenEveryMatchingChangeInOrder) {
  ASSERT_TRUE(Put("user/1", "ann").ok());
  ASSERT_TRUE(Put("group/1", "admins").ok());
  grpc::ClientContext context;
  WatchRequest request;
  request.set_prefix("user/");
  auto watch = stub_->Watch(&context, request);
  WatchEvent event;
  ASSERT_TRUE(watch->Read(&event));
  EXPECT_EQ(Describe(event), "put user/1=ann");
  ASSERT_TRUE(watch->Read(&event));
  EXPECT_EQ(Describe(event), "snapshot done");

  ASSERT_TRUE(Put("group/2", "users").ok());  // not under the prefix
  DeleteReply deleted;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(Put("user/2", absl::StrCat("v", i)).ok());
  ASSERT_TRUE(Delete("user/1", &deleted).ok());
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(watch->Read(&event));
    EXPECT_EQ(Describe(event), absl::StrCat("put user/2=v", i));
  }
  ASSERT_TRUE(watch->Read(&event));
  EXPECT_EQ(Describe(event), "delete user/1");
  context.TryCancel();
  EXPECT_FALSE(watch->Read(&event));
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(KvStoreTest, AWatcherThatDoesNotReadIsEndedWithoutSlowingTheStoreOrOtherWatchers) {
  grpc::ClientContext stalled_context, reading_context;
  WatchRequest request;
  auto stalled = stub_->Watch(&stalled_context, request);  // never reads
  auto reading = stub_->Watch(&reading_context, request);
  WatchEvent event;
  ASSERT_TRUE(reading->Read(&event));  // snapshot done: both watches have started
  stalled->WaitForInitialMetadata();  // sent with its first event: its watch has started too
  const std::string big(16 << 10, 'x');
  constexpr int kPuts = 6000;  // 96 MiB of events: far past what the stalled one may queue
  std::thread reader([&] {
    int seen = 0;
    while (seen < kPuts && reading->Read(&event)) seen += event.kind() == WatchEvent::PUT;
    EXPECT_EQ(seen, kPuts);
  });
  for (int i = 0; i < kPuts; ++i) ASSERT_TRUE(Put(absl::StrCat("k", i % 10), big).ok());
  reader.join();
  while (stalled->Read(&event)) {
  }
  EXPECT_EQ(stalled->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  reading_context.TryCancel();
}

}  // namespace
}  // namespace kv
