// The ways a test can have the same gRPC methods served, for tests that run every case in each:
// a typed callback service on a plain gRPC server, the gateway's methods by name on gRPC's
// threads, and the same on the workers' completion queues (GrpcServerOptions::worker_queues).
//
//   INSTANTIATE_TEST_SUITE_P(Served, MyTest, ::testing::ValuesIn(kEveryWayServed), ServedName);
#ifndef ACTORS_GRPC_TESTING_SERVED_H_
#define ACTORS_GRPC_TESTING_SERVED_H_

#include <array>
#include <memory>
#include <string>

#include "actors/grpc/gateway.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace troupe::testing {

enum class Served { kCallbackService, kGatewayByName, kWorkerQueues };

inline constexpr std::array<Served, 3> kEveryWayServed = {
    Served::kCallbackService, Served::kGatewayByName, Served::kWorkerQueues};

inline std::string ServedName(const ::testing::TestParamInfo<Served>& info) {
  switch (info.param) {
    case Served::kCallbackService:
      return "CallbackService";
    case Served::kGatewayByName:
      return "GatewayByName";
    case Served::kWorkerQueues:
      return "WorkerQueues";
  }
  return "Unknown";
}

// kCallbackService: a plain gRPC server on a loopback port with `service` (null if it cannot
// listen); *port is the bound port.
inline std::unique_ptr<grpc::Server> StartPlainServer(grpc::Service* service, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), port);
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

// The other two: how the test's gateway starts (a loopback port; the worker queues or not).
inline GrpcServerOptions GatewayOptions(Served served) {
  return {.address = "127.0.0.1:0", .worker_queues = served == Served::kWorkerQueues};
}

}  // namespace troupe::testing

#endif  // ACTORS_GRPC_TESTING_SERVED_H_
