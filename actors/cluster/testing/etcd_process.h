// EtcdCluster: real etcd (Debian's etcd-server) for a test - one or more member processes on
// loopback ports, their data in the test's temporary directory, started and waited for until a
// linearizable read succeeds, killed and removed at the end. Members can be killed (SIGKILL),
// stopped (SIGSTOP), continued and restarted on their data to test what clusters do without
// quorum. Election timing is shortened (50 ms heartbeats, 500 ms elections) so tests run fast.
// With `tls`, clients reach it over https with mutual TLS (--client-cert-auth: a client needs a
// certificate its CA admits); the members' peer links stay plaintext on loopback.
//
// Thread safety: not thread-safe; use from the test's thread.
#ifndef ACTORS_CLUSTER_TESTING_ETCD_PROCESS_H_
#define ACTORS_CLUSTER_TESTING_ETCD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "actors/tls/tls_options.h"

namespace troupe::cluster::testing {

class EtcdCluster {
 public:
  // UNAVAILABLE if etcd is missing or does not become healthy within `timeout`.
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> Start(
      int members = 1, absl::Duration timeout = absl::Seconds(20),
      std::optional<TlsFiles> tls = std::nullopt);
  ~EtcdCluster();

  // host:port of every member's client URL.
  std::vector<std::string> endpoints() const;
  int size() const { return static_cast<int>(members_.size()); }

  void Kill(int member);      // SIGKILL (and reap)
  void Pause(int member);     // SIGSTOP
  void Continue(int member);  // SIGCONT
  // Starts a killed member again on its data; waits until the cluster answers reads.
  absl::Status Restart(int member, absl::Duration timeout = absl::Seconds(20));
  // OK once a linearizable read succeeds (through any member) within `timeout`.
  absl::Status WaitHealthy(absl::Duration timeout);

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    std::string data_dir;
    pid_t pid = -1;
  };
  EtcdCluster() = default;
  absl::Status Spawn(Member& m, bool fresh);

  std::string dir_;
  std::optional<TlsFiles> tls_;
  std::string initial_cluster_;
  std::vector<Member> members_;
};

}  // namespace troupe::cluster::testing

#endif  // ACTORS_CLUSTER_TESTING_ETCD_PROCESS_H_
