// The ways a test can have the same gRPC methods served, for tests that run every case in each:
// a typed callback service on a plain gRPC server, the gateway's methods by name on gRPC's
// threads, and the same on the workers' completion queues (GrpcServerOptions::worker_queues).
//
//   INSTANTIATE_TEST_SUITE_P(Served, MyTest, ::testing::ValuesIn(kEveryWayServed), ServedName);
#ifndef ACTORS_GRPC_TESTING_SERVED_H_
#define ACTORS_GRPC_TESTING_SERVED_H_

#include <array>
#include <string>

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

}  // namespace troupe::testing

#endif  // ACTORS_GRPC_TESTING_SERVED_H_
