#include "actors/grpc/gateway.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "actors/grpc/access_rules.h"
#include "actors/grpc/call_interceptor.h"
#include "actors/grpc/grpc_metrics.h"
#include "actors/grpc/grpc_status.h"
#include "actors/grpc/grpc_trace.h"
#include "actors/grpc/unary_call.h"
#include "actors/tls/credentials.h"
#include "framework/log/log.h"

namespace troupe {

std::string ToBytes(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  out.reserve(buffer.Length());
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

namespace {

// Asks a unary route for a call whose request has been read, in the call's trace. No timer per
// call: gRPC enforces the deadline, and the call's cancellation cancels the returned ask.
AskHandle AskUnaryRoute(const GrpcGateway::Route& route, const grpc::ServerContextBase& context,
                        const std::string& method, const grpc::ByteBuffer& request,
                        std::function<void(absl::StatusOr<std::string>)> done) {
  const std::optional<TraceContext> trace = ServedCallTrace(context);
  ScopedTrace traced(trace.has_value() ? &*trace : nullptr);
  return route.unary(GrpcBytes{method, ToBytes(request), PeerIdentityOf(context)},
                     absl::InfiniteDuration(), std::move(done));
}

// A generic unary call: read the one request, ask the actor, write its reply and finish.
// Deleted when gRPC is done with it (OnDone) and the request phase is over.
class GenericUnaryReactor final : public grpc::ServerGenericBidiReactor {
 public:
  GenericUnaryReactor(grpc::GenericCallbackServerContext* context, const GrpcGateway::Route* route)
      : context_(context), route_(route) {
    StartRead(&request_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the call carried no request"));
      Unref();
      return;
    }
    ask_.Set(AskUnaryRoute(*route_, *context_, context_->method(), request_,
                           [this](absl::StatusOr<std::string> reply) {
                             if (!reply.ok()) {
                               Finish(ToGrpcStatus(reply.status()));
                               return;
                             }
                             response_ = ToByteBuffer(*reply);
                             StartWriteAndFinish(&response_, grpc::WriteOptions(),
                                                 grpc::Status::OK);
                           }));
    Unref();
  }
  void OnCancel() override { ask_.Cancel(CancelReason(*context_)); }
  void OnDone() override { Unref(); }

 private:
  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  grpc::GenericCallbackServerContext* const context_;
  const GrpcGateway::Route* const route_;
  std::atomic<int> refs_{2};
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  internal::CallAsk ask_;
};

class UnimplementedReactor final : public grpc::ServerGenericBidiReactor {
 public:
  explicit UnimplementedReactor(const std::string& method) {
    Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        absl::StrCat("no actor serves the method ", method)));
  }
  void OnDone() override { delete this; }
};

}  // namespace

// A stream method on gRPC's threads: the generic reactor is the typed stream's transport.
class ByteStreamReactor final : public grpc::ServerGenericBidiReactor,
                                public internal::ByteTransport {
 public:
  ByteStreamReactor(grpc::GenericCallbackServerContext* context, const GrpcGateway::Route& route)
      : reactions_(route.stream(this, context)) {}
  void StartRead(grpc::ByteBuffer* buffer) override {
    grpc::ServerGenericBidiReactor::StartRead(buffer);
  }
  void StartWrite(const grpc::ByteBuffer* buffer, grpc::WriteOptions options) override {
    grpc::ServerGenericBidiReactor::StartWrite(buffer, options);
  }
  void Finish(grpc::Status status) override { grpc::ServerGenericBidiReactor::Finish(status); }
  void OnReadDone(bool ok) override { reactions_->OnReadDone(ok); }
  void OnWriteDone(bool ok) override { reactions_->OnWriteDone(ok); }
  void OnCancel() override { reactions_->OnCancel(); }
  void OnDone() override {
    reactions_->OnDone();
    delete this;
  }

 private:
  const std::unique_ptr<internal::ByteStreamReactions> reactions_;
};

class GrpcGateway::GenericService final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    auto it = routes.find(context->method());
    if (it == routes.end()) return new UnimplementedReactor(context->method());
    const Route& route = it->second;
    if (route.unary) return new GenericUnaryReactor(context, &route);
    return new ByteStreamReactor(context, route);
  }
  absl::flat_hash_map<std::string, Route> routes;  // fixed once the server starts
};

// A call on the worker queues (GrpcServerOptions::worker_queues), on the async generic API:
// requested on queue i; once matched, a unary method reads its one request, asks the route,
// writes the reply and finishes; a stream method carries a typed stream (byte_stream.h), this
// being its transport. Every event runs on a worker that polls queue i (a unary ask's reply on
// the actor's worker, usually that one too: the actor was made runnable there). A queue several
// workers poll may give them two of a call's events at once: events_mu_ makes them take turns.
// References: one per operation in flight and one for the done notification (from the call's
// match on); the last one ends the stream and deletes the call.
class GrpcGateway::QueuedCall final : public WorkerQueueTag, public internal::ByteTransport {
 public:
  static void Request(GrpcGateway* gateway, int queue) {
    WorkerQueues::OpGuard guard(*gateway->worker_queues_);
    if (!guard || !gateway->worker_queues_->accepting()) return;
    auto* call = new QueuedCall(gateway, queue);
    call->context_.AsyncNotifyWhenDone(&call->done_);
    grpc::ServerCompletionQueue* cq = gateway->worker_queues_->queue(queue);
    gateway->async_generic_->RequestCall(&call->context_, &call->stream_, cq, cq, call);
  }

  // The request: matched with a call, or (ok == false) given back at shutdown.
  void Proceed(bool ok) override {
    if (!ok) {  // no call was matched, so no done notification will come either
      delete this;
      return;
    }
    refs_.fetch_add(1, std::memory_order_relaxed);  // the done notification's
    Request(gateway_, queue_);                      // the next caller
    // Held while the call is set up: its first operations may complete on another worker.
    std::unique_lock<std::mutex> events(events_mu_);
    // What the gateway's interceptor does on gRPC's threads, done here: an interceptor makes
    // gRPC run every batch of every call through its machinery (1.1 us a streamed message).
    // The caller's traceparent gives way to the gateway's span of the call in the call's
    // metadata (ServedCallTrace reads it there); the map is the context's own, not const.
    start_ = absl::Now();
    trace_.TakeCallersTrace(
        const_cast<std::multimap<grpc::string_ref, grpc::string_ref>&>(context_.client_metadata()));
    auto it = gateway_->generic_->routes.find(context_.method());
    if (it == gateway_->generic_->routes.end()) {
      FinishUnary(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                               absl::StrCat("no actor serves the method ", context_.method())));
    } else if (it->second.unary) {
      route_ = &it->second;
      Start([this] { stream_.Read(&request_, &unary_read_); });
    } else {
      // Held until the stream's Finish completes: its core may still touch the context (a
      // cancel) until it has finished, even after the done notification.
      refs_.fetch_add(1, std::memory_order_relaxed);
      stream_reactions_ = it->second.stream(this, &context_);
    }
    events.unlock();
    Unref();  // the request's
  }

  // ByteTransport: the stream's operations, started by its core's pump (any thread). With the
  // queues closed nothing starts: the call is ending, its done notification cancels the core.
  void StartRead(grpc::ByteBuffer* buffer) override {
    Start([&] { stream_.Read(buffer, &stream_read_); });
  }
  void StartWrite(const grpc::ByteBuffer* buffer, grpc::WriteOptions options) override {
    Start([&] { stream_.Write(*buffer, options, &stream_write_); });
  }
  void Finish(grpc::Status status) override {
    Ended(status);
    if (!Start([&] { stream_.Finish(status, &stream_finished_); })) Unref();  // the stream's
  }
  // The worker that polls the call's queue, if only one does: it runs every event of the call.
  int home_worker() const override { return gateway_->worker_queues_->sole_worker(queue_); }

 private:
  // A tag for one kind of operation: its completion runs `reaction`.
  class OpTag final : public WorkerQueueTag {
   public:
    using Reaction = void (QueuedCall::*)(bool ok);
    OpTag(QueuedCall* call, Reaction reaction) : call_(call), reaction_(reaction) {}
    void Proceed(bool ok) override {
      {
        std::lock_guard<std::mutex> events(call_->events_mu_);
        (call_->*reaction_)(ok);
      }
      call_->Unref();
    }

   private:
    QueuedCall* const call_;
    const Reaction reaction_;
  };

  QueuedCall(GrpcGateway* gateway, int queue) : gateway_(gateway), queue_(queue) {
    gateway_->queued_calls_.fetch_add(1, std::memory_order_relaxed);
  }
  ~QueuedCall() { gateway_->queued_calls_.fetch_sub(1, std::memory_order_release); }

  // Starts an operation holding a reference for it; false if the queues have closed.
  template <typename F>
  bool Start(F start) {
    refs_.fetch_add(1, std::memory_order_relaxed);
    WorkerQueues::OpGuard guard(*gateway_->worker_queues_);
    if (!guard) {
      Unref();
      return false;
    }
    start();
    return true;
  }

  void UnaryRequestRead(bool ok) {
    if (!ok) {
      FinishUnary(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the call carried no request"));
      return;
    }
    refs_.fetch_add(1, std::memory_order_relaxed);  // the ask's, until its reply is handled
    ask_.Set(AskUnaryRoute(
        *route_, context_, context_.method(), request_, [this](absl::StatusOr<std::string> reply) {
          // On the thread that answered; the call may be cancelled by now, and then gRPC
          // completes these operations with ok = false.
          if (!reply.ok()) {
            FinishUnary(ToGrpcStatus(reply.status()));
          } else {
            response_ = ToByteBuffer(*reply);
            Ended(grpc::Status::OK);
            Start([this] {
              stream_.WriteAndFinish(response_, grpc::WriteOptions(), grpc::Status::OK,
                                     &finished_);
            });
          }
          Unref();
        }));
  }
  // A unary call's end (or a call nobody serves).
  void FinishUnary(const grpc::Status& status) {
    Ended(status);
    Start([&] { stream_.Finish(status, &finished_); });
  }
  // The call's status is about to be sent: counted by method and code with its latency, and
  // the gateway's span recorded if the trace is sampled. A method nobody serves is counted as
  // "unknown" (its path is the caller's choice). Before the operation starts: its completion
  // may delete the call.
  void Ended(const grpc::Status& status) {
    const int code = static_cast<int>(status.error_code());
    const bool unknown = status.error_code() == grpc::StatusCode::UNIMPLEMENTED;
    const char* method = unknown ? "unknown" : context_.method().c_str();
    gateway_->call_metrics_->Record(method, code, absl::Now() - start_);
    trace_.End(gateway_->system_.span_sink(), method, code);
  }
  // A failed read is the client's half-close or the call's death (deadline, cancellation), and
  // the async API tells them apart only once the done notification has come (IsCancelled is
  // valid from then on); it usually follows at once. So a failed read waits for it, or for a
  // millisecond: then it was a half-close (whose done comes only after our Finish).
  void StreamReadDone(bool ok) {
    if (ok || done_seen_) {
      stream_reactions_->OnReadDone(ok);
      return;
    }
    read_failure_pending_ = true;
    Start([this] {
      // Made here, not with every call: an Alarm costs an allocation and gRPC's timer setup.
      read_failure_alarm_ = std::make_unique<grpc::Alarm>();
      read_failure_alarm_->Set(gateway_->worker_queues_->queue(queue_),
                               absl::ToChronoTime(absl::Now() + absl::Milliseconds(1)),
                               &read_failure_check_);
    });
  }
  void ReadFailureCheck(bool) { DeliverPendingReadFailure(); }
  void DeliverPendingReadFailure() {
    if (!read_failure_pending_) return;
    read_failure_pending_ = false;
    stream_reactions_->OnReadDone(false);
  }
  void StreamWriteDone(bool ok) { stream_reactions_->OnWriteDone(ok); }
  void FinishDone(bool) {}
  void StreamFinishDone(bool) { Unref(); }  // the stream's (OpTag drops the operation's)
  // The call has ended (finished or cancelled): a cancelled one cancels its ask or stream.
  void CallDone(bool) {
    done_seen_ = true;
    const bool cancelled = context_.IsCancelled();
    if (stream_reactions_) {
      if (cancelled) stream_reactions_->OnCancel();  // before the read failure it caused
      DeliverPendingReadFailure();
      if (read_failure_alarm_) read_failure_alarm_->Cancel();
    } else if (cancelled) {
      ask_.Cancel(CancelReason(context_));
    }
  }

  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (stream_reactions_) stream_reactions_->OnDone();
    delete this;
  }

  GrpcGateway* const gateway_;
  const int queue_;
  // Taken by each of the call's events (OpTag) and by its setup: two workers polling its queue
  // may get two of them at once, and the reactions below assume one at a time.
  std::mutex events_mu_;
  grpc::GenericServerContext context_;
  grpc::GenericServerAsyncReaderWriter stream_{&context_};
  OpTag unary_read_{this, &QueuedCall::UnaryRequestRead};
  OpTag stream_read_{this, &QueuedCall::StreamReadDone};
  OpTag stream_write_{this, &QueuedCall::StreamWriteDone};
  OpTag finished_{this, &QueuedCall::FinishDone};
  OpTag stream_finished_{this, &QueuedCall::StreamFinishDone};
  OpTag done_{this, &QueuedCall::CallDone};
  OpTag read_failure_check_{this, &QueuedCall::ReadFailureCheck};
  // A stream's: on worker w only (its tags), or the thread draining the queues at shutdown.
  bool done_seen_ = false;
  bool read_failure_pending_ = false;
  std::unique_ptr<grpc::Alarm> read_failure_alarm_;
  std::atomic<int> refs_{1};  // the request's
  const Route* route_ = nullptr;  // a unary method's
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  internal::CallAsk ask_;
  std::unique_ptr<internal::ByteStreamReactions> stream_reactions_;  // a stream method's
  absl::Time start_;         // when the call was matched
  ServerCallTrace trace_;    // holds the traceparent the context's metadata points to
};

GrpcGateway::GrpcGateway(ActorSystem& system)
    : system_(system),
      rules_(std::make_shared<internal::AccessRules>()),
      generic_(std::make_unique<GenericService>()) {}

GrpcGateway::~GrpcGateway() { Shutdown(); }

absl::Status GrpcGateway::AddService(grpc::Service* service) {
  if (server_) return absl::FailedPreconditionError("the gateway has started");
  services_.push_back(service);
  return absl::OkStatus();
}

absl::Status GrpcGateway::AddRoute(std::string method, Route route) {
  if (server_) return absl::FailedPreconditionError("the gateway has started");
  if (method.empty() || method[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("method names look like /package.Service/Method, not '", method, "'"));
  }
  if (!generic_->routes.emplace(method, std::move(route)).second) {
    return absl::AlreadyExistsError(absl::StrCat("the method ", method, " is served already"));
  }
  return absl::OkStatus();
}

absl::Status GrpcGateway::AddStream(std::string method,
                                    std::function<void(GrpcByteStream)> on_stream,
                                    GrpcStreamOptions options) {
  return AddRoute(std::move(method),
                  Route{nullptr, internal::MakeOpenByteStream<grpc::ByteBuffer, grpc::ByteBuffer>(
                                     std::move(on_stream), options)});
}

absl::Status GrpcGateway::Restrict(std::string scope, AccessPolicy policy) {
  if (server_) return absl::FailedPreconditionError("the gateway has started");
  return rules_->Add(std::move(scope), std::move(policy));
}

GrpcGatewayStats GrpcGateway::stats() const {
  return {.permission_denied = denied_->load(std::memory_order_relaxed),
          .queues = worker_queues_ ? worker_queues_->stats() : WorkerQueueStats{}};
}

absl::StatusOr<int> GrpcGateway::Start(const GrpcServerOptions& options) {
  if (server_) return absl::FailedPreconditionError("the gateway has started");
  const bool tls = options.tls.files.enabled();
  if (absl::Status s = CheckListenSecurity(options.name, options.address, tls,
                                           options.allow_insecure);
      !s.ok()) {
    return s;
  }
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (tls) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> made =
        MakeServerCredentials(options.tls);
    if (!made.ok()) return made.status();
    credentials = *std::move(made);
    if (!rules_->empty()) {
      credentials->SetAuthMetadataProcessor(
          std::make_shared<internal::AccessCheck>(rules_, denied_));
    }
  } else if (!rules_->empty()) {
    return absl::FailedPreconditionError(
        "the gateway has access rules but no TLS: identities come from certificates");
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.address, credentials, &port);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(options.handshake_timeout)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(options.keepalive_time)));
  builder.AddChannelArgument(
      GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options.keepalive_timeout)));
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options.min_client_ping_interval)));
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_IDLE_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options.max_connection_idle)));
  // gRPC binds with SO_REUSEPORT by default: a second server on a taken port would silently
  // share its calls. A taken port must be an error.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  const bool worker_queues = options.worker_queues.value_or(services_.empty());
  if (!options.worker_queues.has_value() && !worker_queues) {
    Log(absl::LogSeverity::kInfo,
        "serving calls on gRPC's threads: typed services (AddService) bring them; methods added "
        "by name are served from the workers' completion queues",
        {{"server", options.name}});
  }
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues;  // with worker_queues
  if (worker_queues) {
    absl::StatusOr<std::vector<std::unique_ptr<grpc::ServerCompletionQueue>>> made =
        AddWorkerQueues(builder, options.worker_queue_count);
    if (!made.ok()) return made.status();
    queues = *std::move(made);
  } else {
    for (grpc::Service* service : services_) builder.RegisterService(service);
    if (!generic_->routes.empty()) builder.RegisterCallbackGenericService(generic_.get());
  }
  call_metrics_ = std::make_unique<GrpcServerMetrics>(system_.metrics());
  if (!worker_queues) {  // on the worker queues QueuedCall does the interceptor's work
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(
        std::make_unique<GatewayInterceptorFactory>(call_metrics_.get(), system_.span_sink()));
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) {
    server_.reset();
    async_generic_.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot serve gRPC on ", options.address, " (address in use or invalid)"));
  }
  if (worker_queues) {
    worker_queues_ = std::make_unique<WorkerQueues>(system_.scheduler(), std::move(queues));
    constexpr int kRequestsPerQueue = 16;  // calls awaited per worker; one more per arrival
    for (int w = 0; w < worker_queues_->size(); ++w) {
      for (int i = 0; i < kRequestsPerQueue; ++i) QueuedCall::Request(this, w);
    }
    if (absl::Status s = worker_queues_->Start(); !s.ok()) {
      Shutdown(absl::ZeroDuration());
      return s;
    }
  }
  return port;
}

absl::StatusOr<std::vector<std::unique_ptr<grpc::ServerCompletionQueue>>>
GrpcGateway::AddWorkerQueues(grpc::ServerBuilder& builder, int count) {
  if (!services_.empty()) {
    return absl::FailedPreconditionError(
        "worker_queues serves the methods added with AddUnary and AddStream; typed callback "
        "services (AddService) run on gRPC's threads, which would poll the workers' sockets too");
  }
  async_generic_ = std::make_unique<grpc::AsyncGenericService>();
  builder.RegisterAsyncGenericService(async_generic_.get());
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues;
  const int workers = system_.scheduler().num_workers();
  count = count > 0 ? std::min(count, workers) : std::max(1, workers / 4);
  for (int w = 0; w < count; ++w) {
    queues.push_back(builder.AddCompletionQueue());
  }
  return queues;
}

void GrpcGateway::Shutdown(absl::Duration grace) {
  if (!server_) return;
  // The server first (calls end; with worker queues the workers drive that), then the queues.
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  if (worker_queues_) {
    // The queues stay open until every call (and its done notification) is over.
    worker_queues_->Shutdown(
        [this] { return queued_calls_.load(std::memory_order_acquire) == 0; },
        grace + absl::Seconds(5));
  }
  server_->Wait();
  server_.reset();
  worker_queues_.reset();
  async_generic_.reset();
}

}  // namespace troupe
