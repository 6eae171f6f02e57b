#include "actors/cluster/etcd_client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "actors/grpc/grpc_status.h"
#include "actors/tls/credentials.h"

namespace troupe::cluster {

std::string PrefixEnd(std::string prefix) {
  for (size_t i = prefix.size(); i > 0; --i) {
    if (static_cast<unsigned char>(prefix[i - 1]) != 0xff) {
      ++prefix[i - 1];
      prefix.resize(i);
      return prefix;
    }
  }
  return std::string(1, '\0');  // every key (etcd's convention for "to the end")
}

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(EtcdOptions options) {
  if (options.endpoints.empty()) return absl::InvalidArgumentError("etcd: no endpoint");
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (options.tls) {
    auto made = MakeChannelCredentials(*options.tls);
    if (!made.ok()) return made.status();
    credentials = *std::move(made);
  }
  grpc::ChannelArguments args;
  args.SetLoadBalancingPolicyName("pick_first");
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // "ipv4:a:1,b:2" names every member; pick-first moves on when one stops answering.
  const std::string target = absl::StrCat("ipv4:", absl::StrJoin(options.endpoints, ","));
  return std::unique_ptr<EtcdClient>(
      new EtcdClient(grpc::CreateCustomChannel(target, credentials, args)));
}

EtcdClient::EtcdClient(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)),
      kv_(etcdserverpb::KV::NewStub(channel_)),
      watch_(etcdserverpb::Watch::NewStub(channel_)),
      lease_(etcdserverpb::Lease::NewStub(channel_)) {}

EtcdClient::~EtcdClient() {
  std::vector<std::weak_ptr<Watch>> watches;
  {
    MutexLock lock(&mu_);
    watches.swap(watches_);
  }
  for (auto& w : watches) {
    if (auto watch = w.lock()) watch->Cancel();
  }
  // The calls in flight end by their deadlines at the latest; no callback may outlive us.
  for (;;) {
    {
      MutexLock lock(&mu_);
      if (in_flight_ == 0) break;
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
}

void EtcdClient::Began() {
  MutexLock lock(&mu_);
  ++in_flight_;
}

void EtcdClient::Ended() {
  MutexLock lock(&mu_);
  --in_flight_;
}

template <typename Req, typename Resp, typename Method>
void EtcdClient::Unary(Method method, Req request, absl::Duration timeout, Done<Resp> done) {
  struct Call {
    grpc::ClientContext context;
    Req request;
    Resp response;
    Done<Resp> done;
  };
  auto* call = new Call{{}, std::move(request), {}, std::move(done)};
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  Began();
  method(&call->context, &call->request, &call->response, [this, call](grpc::Status status) {
    if (status.ok()) {
      call->done(std::move(call->response));
    } else {
      call->done(FromGrpcStatus(status));
    }
    delete call;
    Ended();
  });
}

void EtcdClient::Range(etcdserverpb::RangeRequest request, absl::Duration timeout,
                       Done<etcdserverpb::RangeResponse> done) {
  Unary<etcdserverpb::RangeRequest, etcdserverpb::RangeResponse>(
      [this](auto* c, auto* q, auto* r, auto f) { kv_->async()->Range(c, q, r, std::move(f)); },
      std::move(request), timeout, std::move(done));
}

void EtcdClient::Put(etcdserverpb::PutRequest request, absl::Duration timeout,
                     Done<etcdserverpb::PutResponse> done) {
  Unary<etcdserverpb::PutRequest, etcdserverpb::PutResponse>(
      [this](auto* c, auto* q, auto* r, auto f) { kv_->async()->Put(c, q, r, std::move(f)); },
      std::move(request), timeout, std::move(done));
}

void EtcdClient::DeleteRange(etcdserverpb::DeleteRangeRequest request, absl::Duration timeout,
                             Done<etcdserverpb::DeleteRangeResponse> done) {
  Unary<etcdserverpb::DeleteRangeRequest, etcdserverpb::DeleteRangeResponse>(
      [this](auto* c, auto* q, auto* r, auto f) {
        kv_->async()->DeleteRange(c, q, r, std::move(f));
      },
      std::move(request), timeout, std::move(done));
}

void EtcdClient::Txn(etcdserverpb::TxnRequest request, absl::Duration timeout,
                     Done<etcdserverpb::TxnResponse> done) {
  Unary<etcdserverpb::TxnRequest, etcdserverpb::TxnResponse>(
      [this](auto* c, auto* q, auto* r, auto f) { kv_->async()->Txn(c, q, r, std::move(f)); },
      std::move(request), timeout, std::move(done));
}

void EtcdClient::Compact(int64_t revision, absl::Duration timeout,
                         Done<etcdserverpb::CompactionResponse> done) {
  etcdserverpb::CompactionRequest request;
  request.set_revision(revision);
  request.set_physical(true);
  Unary<etcdserverpb::CompactionRequest, etcdserverpb::CompactionResponse>(
      [this](auto* c, auto* q, auto* r, auto f) { kv_->async()->Compact(c, q, r, std::move(f)); },
      std::move(request), timeout, std::move(done));
}

void EtcdClient::LeaseGrant(int64_t ttl_seconds, absl::Duration timeout,
                            Done<etcdserverpb::LeaseGrantResponse> done) {
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(ttl_seconds);
  Unary<etcdserverpb::LeaseGrantRequest, etcdserverpb::LeaseGrantResponse>(
      [this](auto* c, auto* q, auto* r, auto f) {
        lease_->async()->LeaseGrant(c, q, r, std::move(f));
      },
      std::move(request), timeout, std::move(done));
}

void EtcdClient::LeaseRevoke(int64_t lease, absl::Duration timeout,
                             Done<etcdserverpb::LeaseRevokeResponse> done) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease);
  Unary<etcdserverpb::LeaseRevokeRequest, etcdserverpb::LeaseRevokeResponse>(
      [this](auto* c, auto* q, auto* r, auto f) {
        lease_->async()->LeaseRevoke(c, q, r, std::move(f));
      },
      std::move(request), timeout, std::move(done));
}

// One request and one response on a LeaseKeepAlive stream, then the stream is closed.
class EtcdClient::KeepAliveCall final
    : public grpc::ClientBidiReactor<etcdserverpb::LeaseKeepAliveRequest,
                                     etcdserverpb::LeaseKeepAliveResponse> {
 public:
  KeepAliveCall(EtcdClient* client, int64_t lease, absl::Duration timeout,
                Done<etcdserverpb::LeaseKeepAliveResponse> done)
      : client_(client), done_(std::move(done)) {
    request_.set_id(lease);
    context_.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    client_->lease_->async()->LeaseKeepAlive(&context_, this);
    StartWrite(&request_);
    StartRead(&response_);
    StartCall();
  }
  void OnWriteDone(bool ok) override {
    if (ok) StartWritesDone();
  }
  void OnReadDone(bool ok) override {
    got_ = ok;
    if (!ok) return;
    context_.TryCancel();  // one answer is all we wanted
  }
  void OnDone(const grpc::Status& status) override {
    if (got_) {
      done_(std::move(response_));
    } else if (!status.ok()) {
      done_(FromGrpcStatus(status));
    } else {
      done_(absl::UnavailableError("etcd closed the keep-alive stream without answering"));
    }
    EtcdClient* client = client_;
    delete this;
    client->Ended();
  }

 private:
  EtcdClient* const client_;
  Done<etcdserverpb::LeaseKeepAliveResponse> done_;
  grpc::ClientContext context_;
  etcdserverpb::LeaseKeepAliveRequest request_;
  etcdserverpb::LeaseKeepAliveResponse response_;
  bool got_ = false;
};

void EtcdClient::LeaseKeepAlive(int64_t lease, absl::Duration timeout,
                                Done<etcdserverpb::LeaseKeepAliveResponse> done) {
  Began();
  new KeepAliveCall(this, lease, timeout, std::move(done));
}

// A Watch stream: the create request, then every response in order until the stream ends.
class EtcdClient::WatchCall final
    : public grpc::ClientBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse> {
 public:
  // Shared with the handle the caller holds: cancelling is safe until the call is done.
  struct Handle final : Watch {
    void Cancel() override {
      MutexLock lock(&mu);
      cancelled = true;
      if (context != nullptr) context->TryCancel();
    }
    Mutex mu;
    grpc::ClientContext* context ABSL_GUARDED_BY(mu) = nullptr;  // null once the call is done
    bool cancelled ABSL_GUARDED_BY(mu) = false;
  };

  WatchCall(EtcdClient* client, etcdserverpb::WatchCreateRequest request,
            std::function<void(const etcdserverpb::WatchResponse&)> on_response,
            std::function<void(absl::Status)> on_end, std::shared_ptr<Handle> handle)
      : client_(client),
        on_response_(std::move(on_response)),
        on_end_(std::move(on_end)),
        handle_(std::move(handle)) {
    *request_.mutable_create_request() = std::move(request);
    {
      MutexLock lock(&handle_->mu);
      handle_->context = &context_;
    }
    client_->watch_->async()->Watch(&context_, this);
    StartWrite(&request_);
    StartRead(&response_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    if (response_.canceled()) {
      end_ = response_.compact_revision() > 0
                 ? absl::OutOfRangeError(absl::StrCat("etcd: revision compacted (now ",
                                                      response_.compact_revision(), ")"))
                 : absl::AbortedError(absl::StrCat("etcd cancelled the watch: ",
                                                   response_.cancel_reason()));
      context_.TryCancel();
      return;
    }
    on_response_(response_);
    StartRead(&response_);
  }
  void OnDone(const grpc::Status& status) override {
    bool cancelled;
    {
      MutexLock lock(&handle_->mu);
      handle_->context = nullptr;
      cancelled = handle_->cancelled;
    }
    absl::Status why = end_;
    if (why.ok() && !cancelled) {
      why = status.ok() ? absl::UnavailableError("etcd ended the watch stream")
                        : FromGrpcStatus(status);
    }
    on_end_(why);
    EtcdClient* client = client_;
    delete this;
    client->Ended();
  }

 private:
  EtcdClient* const client_;
  std::function<void(const etcdserverpb::WatchResponse&)> on_response_;
  std::function<void(absl::Status)> on_end_;
  std::shared_ptr<Handle> handle_;
  grpc::ClientContext context_;
  etcdserverpb::WatchRequest request_;
  etcdserverpb::WatchResponse response_;
  absl::Status end_;  // set when etcd cancels the watch itself
};

std::shared_ptr<EtcdClient::Watch> EtcdClient::StartWatch(
    etcdserverpb::WatchCreateRequest request,
    std::function<void(const etcdserverpb::WatchResponse&)> on_response,
    std::function<void(absl::Status)> on_end) {
  auto handle = std::make_shared<WatchCall::Handle>();
  {
    MutexLock lock(&mu_);
    ++in_flight_;
    watches_.push_back(handle);
  }
  new WatchCall(this, std::move(request), std::move(on_response), std::move(on_end), handle);
  return handle;
}

}  // namespace troupe::cluster
