// The cluster benchmark's driver (bench/cluster_compare): a member that hosts nothing and
// measures, against cluster_node processes hosting "counter":
//   --mode=virtual   Pings told through virtual refs (Cluster::Get: placement on every message)
//   --mode=direct    the same Pings through plain remote refs to the same activations
//                    (RemoteNode::Ref to each owner's "~counter/ID"): the peer, no placement
//   --mode=activate  asks --identities fresh identities at once (each activates one actor)
//   --mode=failover  reads "go" on stdin (the script kills the owner of counter/ID meanwhile),
//                    then asks counter/ID every 20 ms until the new owner answers
// and prints one JSON line. Messages are spread round-robin over --identities identities and
// checked by asking every identity for its count at the end.
#include <atomic>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "actors/cluster/cluster.h"
#include "actors/cluster/etcd_flags.h"
#include "actors/cluster/etcd_membership.h"
#include "actors/remote/remote_node.h"
#include "examples/cluster/counter.h"

ABSL_FLAG(std::string, cluster, "troupe", "the cluster's name");
ABSL_FLAG(std::string, mode, "virtual", "virtual, direct, activate or failover");
ABSL_FLAG(int64_t, messages, 200000, "Pings to tell (virtual, direct)");
ABSL_FLAG(int, identities, 100, "identities to spread them over (or to activate)");
ABSL_FLAG(int, first, 0, "the first identity's number (activate: use fresh ones)");
ABSL_FLAG(int, members, 3, "wait until this many members host counter");
ABSL_FLAG(int, threads, 1, "worker threads");

namespace {

using troupe::examples::CounterProtocol;
using troupe::examples::EchoReply;
using troupe::examples::EchoRequest;
using troupe::examples::Ping;

int64_t CountOf(const EchoReply& reply) {  // NODE@HOST:PORT:COUNT:TOKEN
  std::vector<std::string> parts = absl::StrSplit(reply.text(), ':');
  return parts.size() >= 4 ? std::stoll(parts[parts.size() - 2]) : -1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  troupe::ActorSystem system({.threads = absl::GetFlag(FLAGS_threads)});
  const std::string name = absl::StrCat("load-", absl::ToUnixNanos(absl::Now()));
  auto node = troupe::RemoteNode::Start(system, {.name = name, .listen_address = "127.0.0.1:0",
                                                 .max_unacked = 1000000});
  auto membership = troupe::cluster::EtcdMembership::Create(
      system, troupe::cluster::EtcdMembershipOptionsFromFlags(absl::GetFlag(FLAGS_cluster)));
  if (!node.ok() || !membership.ok()) return 1;
  auto cluster = troupe::cluster::Cluster::Create(
      system, **node, *std::move(membership),
      {.advertise_address = absl::StrCat("127.0.0.1:", (*node)->port()),
       .buffer_limit = 1000000});
  if (!cluster.ok() || !(*cluster)->Start().ok()) return 1;
  for (int i = 0; i < 200; ++i) {
    int hosts = 0;
    for (const auto& m : (*cluster)->view().members) hosts += m.Hosts("counter");
    if (hosts >= absl::GetFlag(FLAGS_members)) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const int n = absl::GetFlag(FLAGS_identities);
  const int first = absl::GetFlag(FLAGS_first);
  std::vector<troupe::ActorRef<CounterProtocol>> refs;
  for (int i = first; i < first + n; ++i) {
    const std::string id = absl::StrCat(i);
    if (mode == "direct") {
      // The same activation, reached without placement: a plain remote ref to its owner, whose
      // address the activation's answer names.
      auto virtual_ref = (*cluster)->Get<CounterProtocol>("counter", id);
      auto reply = system.Ask(*virtual_ref, EchoRequest(), absl::Seconds(10)).get();  // activate
      if (!reply.ok()) return 1;
      const std::string text = reply->text();
      const std::string address = text.substr(text.find('@') + 1,
                                              text.rfind(':', text.rfind(':') - 1) - text.find('@') - 1);
      auto direct = (*node)->Ref<CounterProtocol>(
          address, troupe::cluster::internal::ClusterCore::WireName("counter", id));
      if (!direct.ok()) return 1;
      refs.push_back(*direct);
    } else {
      refs.push_back((*cluster)->Get<CounterProtocol>("counter", id).value());
    }
  }
  if (mode == "activate") {
    std::atomic<int> done{0}, failed{0};
    const absl::Time start = absl::Now();
    for (auto& ref : refs) {
      system.Ask(ref, EchoRequest(), absl::Seconds(30), [&](absl::StatusOr<EchoReply> r) {
        if (!r.ok()) ++failed;
        ++done;
      });
    }
    while (done.load() < n) absl::SleepFor(absl::Microseconds(200));
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    std::printf("{\"mode\": \"activate\", \"activations\": %d, \"failed\": %d, \"seconds\": %.3f, "
                "\"activations_per_s\": %.0f}\n",
                n, failed.load(), seconds, n / seconds);
  } else if (mode == "failover") {
    auto first_reply = system.Ask(refs[0], EchoRequest(), absl::Seconds(10)).get();
    if (!first_reply.ok()) return 1;
    std::printf("owner %s\n", first_reply->text().substr(0, first_reply->text().find('@')).c_str());
    std::fflush(stdout);
    std::string go;
    std::getline(std::cin, go);
    const absl::Time start = absl::Now();
    int attempts = 0;
    for (;;) {
      ++attempts;
      auto r = system.Ask(refs[0], EchoRequest(), absl::Milliseconds(200)).get();
      if (r.ok() && r->text().substr(0, r->text().find('@')) !=
                        first_reply->text().substr(0, first_reply->text().find('@'))) {
        std::printf("{\"mode\": \"failover\", \"seconds\": %.3f, \"attempts\": %d, \"new_owner\": "
                    "\"%s\"}\n",
                    absl::ToDoubleSeconds(absl::Now() - start), attempts,
                    r->text().substr(0, r->text().find('@')).c_str());
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  } else {
    // Activate every identity first, so both modes measure message passing only; what each
    // has counted already (an earlier run's Pings) is subtracted at the end.
    int64_t counted = 0;
    for (auto& ref : refs) {
      auto r = system.Ask(ref, EchoRequest(), absl::Seconds(10)).get();
      if (!r.ok()) return 1;
      counted -= CountOf(*r);
    }
    const int64_t messages = absl::GetFlag(FLAGS_messages);
    const absl::Time start = absl::Now();
    for (int64_t i = 0; i < messages; ++i) refs[i % n].Tell(Ping());
    for (auto& ref : refs) {
      auto r = system.Ask(ref, EchoRequest(), absl::Seconds(60)).get();
      if (!r.ok()) return 1;
      counted += CountOf(*r);
    }
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    std::printf("{\"mode\": \"%s\", \"messages\": %lld, \"counted\": %lld, \"seconds\": %.3f, "
                "\"messages_per_s\": %.0f}\n",
                mode.c_str(), static_cast<long long>(messages), static_cast<long long>(counted),
                seconds, messages / seconds);
    if (counted != messages) return 1;
  }
  std::fflush(stdout);
  (*cluster)->Leave();
  return 0;
}
