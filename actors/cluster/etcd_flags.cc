#include "actors/cluster/etcd_flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"

ABSL_FLAG(std::string, etcd, "127.0.0.1:2379", "etcd client endpoints, comma-separated");
ABSL_FLAG(std::string, etcd_tls_ca, "", "etcd over https: the CA bundle etcd's certificate is signed by");
ABSL_FLAG(std::string, etcd_tls_cert, "", "etcd over https: this process's client certificate");
ABSL_FLAG(std::string, etcd_tls_key, "", "etcd over https: the client certificate's key");
ABSL_FLAG(absl::Duration, cluster_ttl, absl::Seconds(5),
          "membership lease: a dead node is noticed (and fences itself) within it; >= 2s");

namespace troupe::cluster {

EtcdMembershipOptions EtcdMembershipOptionsFromFlags(std::string cluster) {
  EtcdMembershipOptions options;
  options.etcd.endpoints = absl::StrSplit(absl::GetFlag(FLAGS_etcd), ',', absl::SkipEmpty());
  const TlsFiles tls{.ca_file = absl::GetFlag(FLAGS_etcd_tls_ca),
                     .cert_file = absl::GetFlag(FLAGS_etcd_tls_cert),
                     .key_file = absl::GetFlag(FLAGS_etcd_tls_key)};
  if (tls.enabled()) options.etcd.tls = TlsChannelOptions{.files = tls};
  options.cluster = std::move(cluster);
  options.ttl = absl::GetFlag(FLAGS_cluster_ttl);
  return options;
}

}  // namespace troupe::cluster
