// The sample virtual actor: a counter per identity, used by the cluster node, its tests and
// benchmark. Pings count; an EchoRequest is answered "NODE:COUNT:FENCING_TOKEN" so a caller
// sees where the identity lives, whether it kept its state, and its claim's revision.
// With a log file, each activation and passivation is written to it with a timestamp (the
// end-to-end test checks that no identity is ever active on two nodes at once).
#ifndef EXAMPLES_CLUSTER_COUNTER_H_
#define EXAMPLES_CLUSTER_COUNTER_H_

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "actors/cluster/cluster.h"
#include "proto/echo.pb.h"
#include "proto/ping.pb.h"

namespace troupe::examples {

using CounterProtocol = Protocol<Ping, Request<EchoRequest, EchoReply>>;

// Where activations are recorded (shared by the node's counters; may be null).
struct ActivationLog {
  std::FILE* file = nullptr;
  void Write(const std::string& line) {
    if (file == nullptr) return;
    std::fprintf(file, "%lld %s\n", static_cast<long long>(absl::ToUnixMicros(absl::Now())),
                 line.c_str());
    std::fflush(file);
  }
};

class Counter : public Actor<Counter, CounterProtocol> {
 public:
  Counter(cluster::VirtualIdentity identity, std::string node, std::shared_ptr<ActivationLog> log)
      : identity_(std::move(identity)), node_(std::move(node)), log_(std::move(log)) {}
  void OnStart() override {
    if (log_) log_->Write(absl::StrCat("activated ", identity_.kind, "/", identity_.id));
  }
  void OnStop() override {
    if (log_) log_->Write(absl::StrCat("passivated ", identity_.kind, "/", identity_.id));
  }
  void Handle(Ping) { ++count_; }
  EchoReply Handle(EchoRequest) {
    EchoReply reply;
    reply.set_text(absl::StrCat(node_, ":", count_, ":", identity_.fencing_token));
    return reply;
  }

 private:
  cluster::VirtualIdentity identity_;
  std::string node_;
  std::shared_ptr<ActivationLog> log_;
  int64_t count_ = 0;
};

}  // namespace troupe::examples

#endif  // EXAMPLES_CLUSTER_COUNTER_H_
