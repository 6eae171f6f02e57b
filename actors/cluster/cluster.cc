#include "actors/cluster/cluster.h"

#include <algorithm>
#include <cstdio>
#include <future>
#include <vector>

#include "actors/cluster/placement.h"
#include "framework/log/log.h"

namespace troupe::cluster {
namespace internal {
namespace {

// The provider holds its listener; the core holds the provider: a weak link breaks the cycle.
class CoreListener final : public MembershipListener {
 public:
  explicit CoreListener(std::weak_ptr<ClusterCore> core) : core_(std::move(core)) {}
  void OnJoined(const ClusterMember& self) override {
    if (auto c = core_.lock()) c->OnJoined(self);
  }
  void OnView(const MembershipView& view) override {
    if (auto c = core_.lock()) c->OnView(view);
  }
  void OnFenced(const absl::Status& why) override {
    if (auto c = core_.lock()) c->OnFenced(why);
  }

 private:
  std::weak_ptr<ClusterCore> core_;
};

}  // namespace

ClusterCore::ClusterCore(ActorSystem& system, RemoteNode& node, MembershipProvider* provider,
                         ClusterOptions options)
    : system_(system),
      node_(node),
      lease_(provider->lease()),
      options_(std::move(options)),
      provider_(provider) {}

void ClusterCore::DetachProvider() {
  MutexLock lock(&provider_mu_);
  provider_ = nullptr;
}

void ClusterCore::ClaimKey(std::string key, std::function<void(absl::StatusOr<Claim>)> done) {
  {
    MutexLock lock(&provider_mu_);
    if (provider_ != nullptr) {
      provider_->ClaimKey(std::move(key), std::move(done));
      return;
    }
  }
  done(absl::UnavailableError("the cluster has shut down"));
}

void ClusterCore::ReleaseKey(std::string key) {
  MutexLock lock(&provider_mu_);
  if (provider_ != nullptr) provider_->ReleaseKey(std::move(key));
}

void ClusterCore::ReadClaims(
    std::string prefix, std::function<void(absl::StatusOr<MembershipProvider::ClaimList>)> done) {
  {
    MutexLock lock(&provider_mu_);
    if (provider_ != nullptr) {
      provider_->ReadClaims(std::move(prefix), std::move(done));
      return;
    }
  }
  done(absl::UnavailableError("the cluster has shut down"));
}

uint64_t ClusterCore::incarnation() const {
  MutexLock lock(&mu_);
  return joined_ ? self_.incarnation : 0;
}

ClusterCore::~ClusterCore() = default;

void ClusterCore::AddKind(std::string kind, KindEntry entry) {
  kinds_.emplace(std::move(kind), std::move(entry));
}

bool ClusterCore::Hosts(std::string_view kind) const { return kinds_.contains(std::string(kind)); }

const ClusterCore::KindEntry* ClusterCore::kind(std::string_view kind) const {
  auto it = kinds_.find(std::string(kind));
  return it == kinds_.end() ? nullptr : &it->second;
}

std::string ClusterCore::self_name() const {
  MutexLock lock(&mu_);
  return self_.name;
}

bool ClusterCore::IsSelf(const ClusterMember& m) const {
  MutexLock lock(&mu_);
  return m.name == self_.name && m.incarnation == self_.incarnation;
}

bool ClusterCore::Serving() const {
  {
    MutexLock lock(&mu_);
    if (!joined_ || left_) return false;
  }
  return lease_->Valid();
}

std::optional<ClusterMember> ClusterCore::OwnerOf(std::string_view kind,
                                                  std::string_view id) const {
  MutexLock lock(&mu_);
  if (!joined_) return std::nullopt;
  std::vector<std::string_view> names;
  std::vector<const ClusterMember*> members;
  for (const ClusterMember& m : view_.members) {
    if (m.Hosts(kind)) {
      names.push_back(m.name);
      members.push_back(&m);
    }
  }
  const int owner = RendezvousOwner(kind, id, names);
  if (owner < 0) return std::nullopt;
  return *members[owner];
}

std::optional<ClusterCore::Host> ClusterCore::LocalHost(const std::string& kind,
                                                        const std::string& id,
                                                        const void* protocol) {
  const KindEntry* entry = this->kind(kind);
  if (entry == nullptr || entry->protocol != protocol || !Serving()) return std::nullopt;
  const std::string key = absl::StrCat(kind, "/", id);
  {
    MutexLock lock(&mu_);
    auto it = hosts_.find(key);
    if (it != hosts_.end()) return it->second;
  }
  // Spawned outside the lock (spawning may run code); a racing second spawn loses below.
  Host host = entry->make(shared_from_this(), VirtualIdentity{kind, id, 0});
  if (!host.cell) return std::nullopt;
  MutexLock lock(&mu_);
  auto [it, inserted] = hosts_.emplace(key, host);
  if (!inserted) host.cell->RequestStop();  // someone activated it first: use theirs
  return it->second;
}

void ClusterCore::HostStopped(const std::string& kind, const std::string& id, const void* cell) {
  MutexLock lock(&mu_);
  auto it = hosts_.find(absl::StrCat(kind, "/", id));
  if (it != hosts_.end() && it->second.cell.get() == cell) {
    hosts_.erase(it);
    BumpRoutingEpoch();
  }
}

absl::StatusOr<std::shared_ptr<const troupe::internal::Export>> ClusterCore::Resolve(
    const std::string& name, const troupe::internal::RemoteSender& sender) {
  // "~kind/id"
  const size_t slash = name.find('/');
  if (name.size() < 3 || name[0] != '~' || slash == std::string::npos) {
    return absl::NotFoundError(absl::StrCat("no actor exported as '", name, "'"));
  }
  const std::string kind = name.substr(1, slash - 1);
  const std::string id = name.substr(slash + 1);
  if (!Serving()) {
    Count(&ClusterStats::refused_fenced);
    return absl::UnavailableError(absl::StrCat(self_name(), " is not serving the cluster now"));
  }
  {
    MutexLock lock(&mu_);
    const ClusterMember* member = view_.Find(sender.node);
    if (member == nullptr || member->incarnation != sender.incarnation) {
      ++stats_.refused_stranger;
      return absl::UnavailableError(absl::StrCat(
          "node '", sender.node, "' (incarnation ", sender.incarnation,
          ") is not a member in this node's view"));
    }
    auto it = hosts_.find(absl::StrCat(kind, "/", id));
    if (it != hosts_.end()) return it->second.wire;  // active here (e.g. by its claim)
  }
  std::optional<ClusterMember> owner = OwnerOf(kind, id);
  if (!owner || !IsSelf(*owner)) {
    Count(&ClusterStats::refused_not_owner);
    return absl::UnavailableError(absl::StrCat(kind, "/", id, " is not owned by ", self_name(),
                                               owner ? " (it is " + owner->name + "'s)" : ""));
  }
  const KindEntry* entry = this->kind(kind);
  if (entry == nullptr) return absl::NotFoundError(absl::StrCat("no kind ", kind, " here"));
  std::optional<Host> host = LocalHost(kind, id, entry->protocol);
  if (!host) return absl::UnavailableError("could not activate the virtual actor");
  return host->wire;
}

void ClusterCore::WatchViews(std::function<void()> on_change) {
  MutexLock lock(&mu_);
  view_watchers_.push_back(std::move(on_change));
}

void ClusterCore::NotifyViewWatchers() {
  std::vector<std::function<void()>> watchers;
  {
    MutexLock lock(&mu_);
    watchers = view_watchers_;
  }
  for (auto& w : watchers) w();
}

void ClusterCore::Start() {
  ClusterMember self;
  self.name = node_.name();
  self.address = options_.advertise_address;
  for (const auto& [kind, entry] : kinds_) self.kinds.push_back(kind);
  std::sort(self.kinds.begin(), self.kinds.end());
  {
    MutexLock lock(&mu_);
    self_ = self;
  }
  node_.SetResolver([weak = std::weak_ptr<ClusterCore>(shared_from_this())](
                        const std::string& name, const troupe::internal::RemoteSender& sender)
                        -> absl::StatusOr<std::shared_ptr<const troupe::internal::Export>> {
    auto core = weak.lock();
    if (!core) return absl::UnavailableError("the cluster has shut down");
    return core->Resolve(name, sender);
  });
  MutexLock lock(&provider_mu_);
  if (provider_ != nullptr) {
    provider_->Start(self, std::make_shared<CoreListener>(weak_from_this()));
  }
}

void ClusterCore::Leave() {
  std::vector<troupe::internal::CellRef> to_stop;
  {
    MutexLock lock(&mu_);
    if (left_) return;
    left_ = true;
    joined_ = false;
    for (auto& [key, host] : hosts_) to_stop.push_back(host.cell);
    BumpRoutingEpoch();
  }
  for (auto& cell : to_stop) cell->RequestStop();
  auto done = std::make_shared<std::promise<absl::Status>>();
  {
    MutexLock lock(&provider_mu_);
    if (provider_ == nullptr) return;
    provider_->Leave([done](absl::Status s) { done->set_value(s); });
  }
  absl::Status left = done->get_future().get();
  if (!left.ok()) {
    Log(absl::LogSeverity::kWarning, "cluster: leaving failed", {{"why", left.ToString()}});
  }
}

void ClusterCore::OnJoined(const ClusterMember& self) {
  {
    MutexLock lock(&mu_);
    self_ = self;
    ++stats_.joins;
    BumpRoutingEpoch();
  }
  node_.SetClusterIncarnation(self.incarnation);
}

void ClusterCore::StopHostsNotOwnedLocked(std::vector<troupe::internal::CellRef>& to_stop) {
  for (auto& [key, host] : hosts_) {
    const size_t slash = key.find('/');
    const std::string_view kind(key.data(), slash);
    const std::string_view id(key.data() + slash + 1, key.size() - slash - 1);
    std::vector<std::string_view> names;
    for (const ClusterMember& m : view_.members) {
      if (m.Hosts(kind)) names.push_back(m.name);
    }
    const int owner = RendezvousOwner(kind, id, names);
    if (owner < 0 || names[owner] != self_.name) to_stop.push_back(host.cell);
  }
}

void ClusterCore::OnView(const MembershipView& view) {
  std::vector<troupe::internal::CellRef> to_stop;
  {
    MutexLock lock(&mu_);
    if (left_) return;
    view_ = view;
    ++stats_.views;
    const ClusterMember* me = view_.Find(self_.name);
    joined_ = me != nullptr && me->incarnation == self_.incarnation;
    if (joined_) StopHostsNotOwnedLocked(to_stop);
    stats_.handed_over += to_stop.size();
    BumpRoutingEpoch();
  }
  for (auto& cell : to_stop) cell->RequestStop();  // they passivate; the new owner activates
  NotifyViewWatchers();
}

void ClusterCore::OnFenced(const absl::Status& why) {
  std::vector<troupe::internal::CellRef> to_stop;
  {
    MutexLock lock(&mu_);
    joined_ = false;
    ++stats_.fences;
    for (auto& [key, host] : hosts_) to_stop.push_back(host.cell);
    BumpRoutingEpoch();
  }
  Log(absl::LogSeverity::kWarning, "cluster: this node stops its virtual actors",
      {{"node", self_name()}, {"why", why.ToString()}});
  for (auto& cell : to_stop) cell->RequestStop();
  NotifyViewWatchers();
}

MembershipView ClusterCore::view() const {
  MutexLock lock(&mu_);
  return view_;
}

ClusterStats ClusterCore::stats() const {
  MutexLock lock(&mu_);
  ClusterStats stats = stats_;
  stats.sent_local = sent_local_.load(std::memory_order_relaxed);
  stats.sent_remote = sent_remote_.load(std::memory_order_relaxed);
  return stats;
}

void ClusterCore::Count(uint64_t ClusterStats::*field, uint64_t n) {
  MutexLock lock(&mu_);
  stats_.*field += n;
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Create(
    ActorSystem& system, RemoteNode& node, std::unique_ptr<MembershipProvider> membership,
    ClusterOptions options) {
  if (options.advertise_address.empty()) {
    return absl::InvalidArgumentError(
        "cluster: advertise_address (how peers reach this node's RemoteNode) is required");
  }
  auto core = std::make_shared<internal::ClusterCore>(system, node, membership.get(),
                                                      std::move(options));
  return std::unique_ptr<Cluster>(new Cluster(system, std::move(membership), std::move(core)));
}

absl::Status Cluster::Start() {
  if (started_) return absl::FailedPreconditionError("the cluster has started");
  started_ = true;
  core_->Start();
  return absl::OkStatus();
}

void Cluster::Leave() {
  if (left_ || !started_) return;
  left_ = true;
  core_->Leave();
}

Cluster::~Cluster() {
  Leave();
  core_->DetachProvider();  // hosts may outlive us a little; they no longer reach the provider
  membership_.reset();
}

}  // namespace troupe::cluster
