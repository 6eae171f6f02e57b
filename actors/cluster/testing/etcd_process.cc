#include "actors/cluster/testing/etcd_process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "actors/cluster/etcd_client.h"

namespace troupe::cluster::testing {
namespace {

// A port nothing listens on right now (the kernel's pick; released for etcd to take).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string Url(int port, bool tls = false) {
  return absl::StrCat(tls ? "https" : "http", "://127.0.0.1:", port);
}

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(int members,
                                                                absl::Duration timeout,
                                                                std::optional<TlsFiles> tls) {
  static std::atomic<int> next{0};
  std::unique_ptr<EtcdCluster> cluster(new EtcdCluster());
  cluster->tls_ = std::move(tls);
  const char* tmp = std::getenv("TEST_TMPDIR");
  cluster->dir_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/etcd-", ::getpid(), "-", next++);
  std::filesystem::remove_all(cluster->dir_);
  std::filesystem::create_directories(cluster->dir_);
  for (int i = 0; i < members; ++i) {
    Member m;
    m.name = absl::StrCat("m", i);
    m.client_port = FreePort();
    m.peer_port = FreePort();
    m.data_dir = absl::StrCat(cluster->dir_, "/", m.name);
    absl::StrAppend(&cluster->initial_cluster_, i == 0 ? "" : ",", m.name, "=", Url(m.peer_port));
    cluster->members_.push_back(m);
  }
  for (Member& m : cluster->members_) {
    if (absl::Status s = cluster->Spawn(m, /*fresh=*/true); !s.ok()) return s;
  }
  if (absl::Status s = cluster->WaitHealthy(timeout); !s.ok()) return s;
  return cluster;
}

absl::Status EtcdCluster::Spawn(Member& m, bool fresh) {
  const std::string log = absl::StrCat(dir_, "/", m.name, ".log");
  std::vector<std::string> args = {
      "etcd",
      absl::StrCat("--name=", m.name),
      absl::StrCat("--data-dir=", m.data_dir),
      absl::StrCat("--listen-client-urls=", Url(m.client_port, tls_.has_value())),
      absl::StrCat("--advertise-client-urls=", Url(m.client_port, tls_.has_value())),
      absl::StrCat("--listen-peer-urls=", Url(m.peer_port)),
      absl::StrCat("--initial-advertise-peer-urls=", Url(m.peer_port)),
      absl::StrCat("--initial-cluster=", initial_cluster_),
      absl::StrCat("--initial-cluster-state=", fresh ? "new" : "existing"),
      absl::StrCat("--initial-cluster-token=troupe-test-", ::getpid()),
      "--heartbeat-interval=50",
      "--election-timeout=500",
      "--logger=zap",
      "--log-level=error",
  };
  if (tls_) {
    args.push_back(absl::StrCat("--cert-file=", tls_->cert_file));
    args.push_back(absl::StrCat("--key-file=", tls_->key_file));
    args.push_back(absl::StrCat("--trusted-ca-file=", tls_->ca_file));
    args.push_back("--client-cert-auth");
  }
  const pid_t pid = ::fork();
  if (pid < 0) return absl::UnavailableError("fork failed");
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp("etcd", argv.data());
    ::_exit(127);
  }
  m.pid = pid;
  return absl::OkStatus();
}

absl::Status EtcdCluster::WaitHealthy(absl::Duration timeout) {
  EtcdOptions options{.endpoints = endpoints()};
  if (tls_) options.tls = TlsChannelOptions{.files = *tls_};  // its own certificate: both usages
  auto client = EtcdClient::Create(options);
  if (!client.ok()) return client.status();
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last;
  while (absl::Now() < deadline) {
    for (const Member& m : members_) {
      int status;
      if (m.pid > 0 && ::waitpid(m.pid, &status, WNOHANG) == m.pid) {
        return absl::UnavailableError(
            absl::StrCat("etcd ", m.name, " exited (is etcd-server installed? see ", dir_, "/",
                         m.name, ".log)"));
      }
    }
    std::promise<absl::Status> done;
    etcdserverpb::RangeRequest request;
    request.set_key("troupe-health");
    (*client)->Range(request, absl::Milliseconds(500),
                     [&](absl::StatusOr<etcdserverpb::RangeResponse> r) {
                       done.set_value(r.status());
                     });
    last = done.get_future().get();
    if (last.ok()) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::UnavailableError(absl::StrCat("etcd did not become healthy: ", last.ToString()));
}

std::vector<std::string> EtcdCluster::endpoints() const {
  std::vector<std::string> out;
  for (const Member& m : members_) out.push_back(absl::StrCat("127.0.0.1:", m.client_port));
  return out;
}

void EtcdCluster::Kill(int member) {
  Member& m = members_.at(member);
  if (m.pid <= 0) return;
  ::kill(m.pid, SIGKILL);
  ::waitpid(m.pid, nullptr, 0);
  m.pid = -1;
}

void EtcdCluster::Pause(int member) {
  if (members_.at(member).pid > 0) ::kill(members_[member].pid, SIGSTOP);
}

void EtcdCluster::Continue(int member) {
  if (members_.at(member).pid > 0) ::kill(members_[member].pid, SIGCONT);
}

absl::Status EtcdCluster::Restart(int member, absl::Duration timeout) {
  Kill(member);
  if (absl::Status s = Spawn(members_.at(member), /*fresh=*/false); !s.ok()) return s;
  return WaitHealthy(timeout);
}

EtcdCluster::~EtcdCluster() {
  for (int i = 0; i < size(); ++i) {
    Continue(i);
    Kill(i);
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace troupe::cluster::testing
