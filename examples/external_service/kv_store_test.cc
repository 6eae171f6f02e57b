// The store through its gRPC API, as a client sees it.
#include "kv_store.h"

#include "actors/grpc/gateway.h"
#include "gtest/gtest.h"

namespace kv {
namespace {

TEST(KvStoreTest, PutGetDeleteOverGrpc) {
  troupe::ActorSystem system({.threads = 2});
  KvService service(system, system.Spawn<KvStore>().value());
  troupe::GrpcGateway gateway(system);
  ASSERT_TRUE(gateway.AddService(&service).ok());
  auto port = gateway.Start({.address = "127.0.0.1:0"});
  ASSERT_TRUE(port.ok()) << port.status();
  auto stub = KeyValue::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", *port), grpc::InsecureChannelCredentials()));
  auto call = [](auto fn) {
    grpc::ClientContext context;
    return fn(&context);
  };
  PutRequest put;
  put.set_key("k");
  put.set_value("v1");
  PutReply put_reply;
  ASSERT_TRUE(call([&](auto* c) { return stub->Put(c, put, &put_reply); }).ok());
  EXPECT_FALSE(put_reply.replaced());
  put.set_value("v2");
  ASSERT_TRUE(call([&](auto* c) { return stub->Put(c, put, &put_reply); }).ok());
  EXPECT_TRUE(put_reply.replaced());
  GetRequest get;
  get.set_key("k");
  GetReply got;
  ASSERT_TRUE(call([&](auto* c) { return stub->Get(c, get, &got); }).ok());
  EXPECT_TRUE(got.found());
  EXPECT_EQ(got.value(), "v2");
  DeleteRequest del;
  del.set_key("k");
  DeleteReply deleted;
  ASSERT_TRUE(call([&](auto* c) { return stub->Delete(c, del, &deleted); }).ok());
  EXPECT_TRUE(deleted.deleted());
  ASSERT_TRUE(call([&](auto* c) { return stub->Get(c, get, &got); }).ok());
  EXPECT_FALSE(got.found());
  put.set_key("");
  EXPECT_EQ(call([&](auto* c) { return stub->Put(c, put, &put_reply); }).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace kv
