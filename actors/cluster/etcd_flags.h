// The etcd command-line flags troupe's cluster binaries share (Abseil flags):
//
//   --etcd=HOST:PORT,...                                  etcd's client endpoints
//   --etcd_tls_ca=FILE --etcd_tls_cert=FILE --etcd_tls_key=FILE
//                                                         https with a client certificate
//                                                         (etcd --client-cert-auth)
//   --cluster_ttl=5s                                      the membership lease
//
// Linking this library defines the flags; a binary reads them after absl::ParseCommandLine.
//
// Thread safety: read the flags from the main thread after parsing.
#ifndef ACTORS_CLUSTER_ETCD_FLAGS_H_
#define ACTORS_CLUSTER_ETCD_FLAGS_H_

#include <string>

#include "actors/cluster/etcd_membership.h"

namespace troupe::cluster {

// Endpoints, TLS and lease from the flags, for the cluster named `cluster` (etcd key prefix).
EtcdMembershipOptions EtcdMembershipOptionsFromFlags(std::string cluster);

}  // namespace troupe::cluster

#endif  // ACTORS_CLUSTER_ETCD_FLAGS_H_
