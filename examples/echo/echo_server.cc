// A raw TCP echo server built from actors: every byte a client sends comes back, in order.
//
//   bazel run -c opt //examples/echo:echo_server -- --port=7000 --backend=auto --threads=0
//       [--record=FILE]   (the run recorded for a replay, written at exit: docs/simulation.md)
//
// With --grpc_port, the Echo gRPC service (proto/echo.proto) is served by actors too: Say is an
// ask to an EchoRpc actor, answered after delay_ms by a timer (never a sleeping thread); a call
// whose client gives up cancels its timer. Chat is a bidi stream served by one ChatSession actor
// per call, answering each request in order (after its delay_ms, if any). Both are added to the
// gateway by method name and served from completion queues the workers drive (a call's events,
// the actors' turns and the replies on one thread: GrpcServerOptions::worker_queues);
// --nogrpc_worker_queues serves them on gRPC's own threads instead, each call handed to a worker
// and back.
//
// One EchoConnection actor per accepted connection (tcp_echo.h). It owns its TcpStream:
// received chunks arrive as TcpReceived messages and are written straight back. Backpressure
// is the stream's: if a client stops reading, the queue passes its high-water mark, reading
// from that client pauses, and memory stays bounded. SIGINT/SIGTERM: stop accepting, close,
// exit 0.
#include <cstdio>
#include <deque>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "actors/metrics/metrics_flags.h"
#include "framework/record/record_flags.h"
#include "framework/trace/trace_flags.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "actors/grpc/gateway.h"
#include "actors/grpc/stream_call.h"
#include "actors/tcp/tcp_listener.h"
#include "actors/tls/tls_flags.h"
#include "examples/echo/tcp_echo.h"
#include "framework/base/stop_signals.h"
#include "framework/system/actor_system.h"
#include "io/backend_selector.h"
#include "proto/echo.grpc.pb.h"

ABSL_FLAG(std::string, host, "127.0.0.1",
          "address to listen on (the gRPC port needs --tls_* or --allow_insecure off loopback)");
ABSL_FLAG(int, port, 7000, "TCP port (0: pick a free one; the chosen port is printed)");
ABSL_FLAG(troupe::IoBackendKind, backend, troupe::IoBackendKind::kAuto,
          "I/O backend: epoll, uring or auto (several workers: epoll, one shared reactor; one "
          "worker: io_uring if available, else epoll)");
ABSL_FLAG(int, threads, 0, "worker threads (0 = one per core)");
ABSL_FLAG(bool, shared_reactor, true,
          "with epoll and several workers, one epoll set driven by every worker (false: one per "
          "worker, each connection served by its own)");
ABSL_FLAG(int64_t, max_connections, 10000, "open connections beyond this are refused");
ABSL_FLAG(absl::Duration, take_over_after, absl::Microseconds(200),
          "another worker drives the sockets of a worker that has taken no work for this long "
          "(a long turn, preempted; epoll with --noshared_reactor only, 0: never)");
ABSL_FLAG(absl::Duration, wake_cost, absl::Microseconds(50),
          "actors a worker's own I/O makes runnable wake a sleeping worker to share them only "
          "once they would take longer than this to run there (0: always)");
ABSL_FLAG(absl::Duration, first_frame_timeout, absl::Seconds(30),
          "a connection that sends nothing this long after connecting is closed");
ABSL_FLAG(absl::Duration, idle_timeout, absl::Minutes(10),
          "a connection that sends nothing this long is closed");
ABSL_FLAG(int, grpc_port, -1,
          "also serve the Echo gRPC service on this port (0: pick one; -1: off)");
ABSL_FLAG(bool, grpc_worker_queues, true,
          "serve the gRPC methods from completion queues the workers drive (false: on gRPC's "
          "threads)");
ABSL_FLAG(int, grpc_queues, 0,
          "with --grpc_worker_queues: how many completion queues (worker w polls queue w % n; "
          "0: one for every 4 workers, at least one)");

namespace {

// The Echo service's Say: the same text back, after delay_ms.
using EchoRpcProtocol =
    troupe::Protocol<troupe::Request<troupe::examples::EchoRequest, troupe::examples::EchoReply>>;

class EchoRpc : public troupe::Actor<EchoRpc, EchoRpcProtocol> {
 public:
  void Handle(troupe::examples::EchoRequest request,
              troupe::Promise<troupe::examples::EchoReply> promise) {
    troupe::examples::EchoReply reply;
    reply.set_text(request.text());
    if (request.delay_ms() == 0) {
      promise.Reply(std::move(reply));
      return;
    }
    auto timer = std::make_shared<troupe::TimerHandle>();
    ctx().OnCancel(promise, [timer](absl::Status) { timer->Cancel(); });  // nobody waits
    *timer = ctx().RunAfter(absl::Milliseconds(request.delay_ms()),
                            [promise = std::move(promise), reply = std::move(reply)]() mutable {
                              promise.Reply(std::move(reply));
                            });
  }
};

// One Chat call: replies in request order; a request with delay_ms holds the ones behind it.
using ChatStream = troupe::GrpcStream<troupe::examples::EchoRequest, troupe::examples::EchoReply>;
struct ReplyDue {};
using ChatSessionProtocol =
    troupe::Protocol<troupe::GrpcReceived<troupe::examples::EchoRequest>, troupe::GrpcReadsDone,
                     troupe::GrpcCallCancelled, ReplyDue>;

class ChatSession : public troupe::Actor<ChatSession, ChatSessionProtocol> {
 public:
  explicit ChatSession(ChatStream stream) : stream_(std::move(stream)) {}
  void OnStart() override {
    if (!stream_.Start(self()).ok()) ctx().Stop();
  }
  void Handle(troupe::GrpcReceived<troupe::examples::EchoRequest> m) {
    waiting_.push_back(std::move(m));  // its credit is held until answered: flow control
    if (waiting_.size() == 1) AnswerFront();
  }
  void Handle(ReplyDue) {
    Reply();
    if (!waiting_.empty()) AnswerFront();
  }
  void Handle(troupe::GrpcReadsDone) {
    reads_done_ = true;
    if (waiting_.empty()) Done();
  }
  void Handle(troupe::GrpcCallCancelled) { ctx().Stop(); }

 private:
  void AnswerFront() {
    const uint32_t delay = waiting_.front().message.delay_ms();
    if (delay > 0) {
      ctx().SendAfter(absl::Milliseconds(delay), self(), ReplyDue{});
      return;
    }
    while (!waiting_.empty() && waiting_.front().message.delay_ms() == 0) Reply();
    if (!waiting_.empty()) AnswerFront();
  }
  void Reply() {
    troupe::examples::EchoReply reply;
    reply.set_text(std::move(*waiting_.front().message.mutable_text()));
    waiting_.pop_front();
    if (!stream_.Write(std::move(reply)).ok()) ctx().Stop();
    if (reads_done_ && waiting_.empty()) Done();
  }
  void Done() {
    stream_.Finish();
    ctx().Stop();
  }

  ChatStream stream_;
  std::deque<troupe::GrpcReceived<troupe::examples::EchoRequest>> waiting_;
  bool reads_done_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("A TCP echo server built from troupe actors.");
  absl::ParseCommandLine(argc, argv);
  // Block the stop signals before any thread starts; main waits for them below.
  troupe::BlockStopSignals();

  troupe::ActorSystemOptions options;
  options.threads = absl::GetFlag(FLAGS_threads);
  options.io.kind = absl::GetFlag(FLAGS_backend);
  options.io.shared_reactor = absl::GetFlag(FLAGS_shared_reactor);
  options.take_over_after = absl::GetFlag(FLAGS_take_over_after);
  options.wake_cost = absl::GetFlag(FLAGS_wake_cost);
  auto spans = troupe::SpanSinkFromFlags("echo_server");
  if (!spans.ok()) {
    std::fprintf(stderr, "echo_server: %s\n", spans.status().ToString().c_str());
    return 1;
  }
  options.span_sink = *spans;
  options.measured_actor_types = troupe::MeasuredActorTypesFromFlags();
  auto recorder = troupe::RecorderFromFlags();
  if (!recorder.ok()) {
    std::fprintf(stderr, "echo_server: %s\n", recorder.status().ToString().c_str());
    return 1;
  }
  options.recorder = *recorder;
  auto system = troupe::ActorSystem::Create(options);
  if (!system.ok()) {
    std::fprintf(stderr, "echo_server: %s\n", std::string(system.status().message()).c_str());
    return 1;
  }
  troupe::ActorSystem& sys = **system;
  troupe::TcpListenerOptions listen;
  listen.host = absl::GetFlag(FLAGS_host);
  listen.port = absl::GetFlag(FLAGS_port);
  listen.max_connections = absl::GetFlag(FLAGS_max_connections);
  listen.stream.first_frame_timeout = absl::GetFlag(FLAGS_first_frame_timeout);
  listen.stream.idle_timeout = absl::GetFlag(FLAGS_idle_timeout);
  auto listener = troupe::examples::ServeTcpEcho(sys, listen);
  if (!listener.ok()) {
    std::fprintf(stderr, "echo_server: %s\n", std::string(listener.status().message()).c_str());
    return 1;
  }
  std::printf("listening on port %d\n", (*listener)->port());
  troupe::GrpcGateway gateway(sys);
  if (absl::GetFlag(FLAGS_grpc_port) >= 0) {
    using troupe::examples::Echo;
    (void)gateway.AddUnary<troupe::examples::EchoRequest, troupe::examples::EchoReply>(
        troupe::GrpcMethod<Echo>("Say"), sys.Spawn<EchoRpc>().value());
    (void)gateway.AddStream<troupe::examples::EchoRequest, troupe::examples::EchoReply>(
        troupe::GrpcMethod<Echo>("Chat"), [&sys](ChatStream stream) {
          // A failed spawn (actor limit, shutdown) drops the stream: the call ends ABORTED.
          (void)sys.Spawn<ChatSession>(std::move(stream));
        });
    absl::StatusOr<int> grpc_port =
        gateway.Start({.address = absl::StrCat(listen.host, ":", absl::GetFlag(FLAGS_grpc_port)),
                       .tls = troupe::TlsServerOptionsFromFlags(),
                       .allow_insecure = troupe::AllowInsecureFromFlags(),
                       .worker_queues = absl::GetFlag(FLAGS_grpc_worker_queues),
                       .worker_queue_count = absl::GetFlag(FLAGS_grpc_queues)});
    if (!grpc_port.ok()) {
      std::fprintf(stderr, "echo_server: %s\n", grpc_port.status().ToString().c_str());
      return 1;
    }
    std::printf("grpc on port %d\n", *grpc_port);
  }
  auto metrics = troupe::StartMetricsFromFlags(sys);
  if (!metrics.ok()) {
    std::fprintf(stderr, "echo_server: %s\n", metrics.status().ToString().c_str());
    return 1;
  }
  std::fflush(stdout);
  std::fprintf(stderr, "echo_server: backend %s, %d worker threads\n",
               std::string(sys.io()->backend_name()).c_str(), sys.scheduler().num_workers());

  const int signal_number = troupe::WaitForStopSignal();
  (*listener)->Stop();
  gateway.Shutdown();
  metrics->reset();
  const troupe::TcpListenerStats stats = (*listener)->stats();
  std::fprintf(stderr,
               "echo_server: stopping (signal %d): %llu accepted, %llu refused, %lld open\n",
               signal_number, static_cast<unsigned long long>(stats.accepted),
               static_cast<unsigned long long>(stats.refused), static_cast<long long>(stats.open));
  sys.Shutdown();
  const troupe::IoBackendStats io = sys.stats().io;
  std::fprintf(
      stderr,
      "echo_server: I/O: %llu completions, %llu syscalls, %llu polls (%llu slept), %llu posted, "
      "%llu sent at once\n",
      static_cast<unsigned long long>(io.completions), static_cast<unsigned long long>(io.syscalls),
      static_cast<unsigned long long>(io.polls), static_cast<unsigned long long>(io.waits),
      static_cast<unsigned long long>(io.posted), static_cast<unsigned long long>(io.sent_now));
  const troupe::SchedulerStats sched = sys.stats().scheduler;
  std::fprintf(stderr,
               "echo_server: workers: %llu turns, %llu parks, %llu steals, %llu take-overs of a "
               "stalled worker's I/O (%llu turns run for it)\n",
               static_cast<unsigned long long>(sched.turns),
               static_cast<unsigned long long>(sched.parks),
               static_cast<unsigned long long>(sched.steals),
               static_cast<unsigned long long>(sched.take_overs),
               static_cast<unsigned long long>(sched.taken_over_turns));
  absl::StatusOr<std::string> recorded = troupe::WriteRecordingFromFlags(recorder->get());
  if (!recorded.ok()) {
    std::fprintf(stderr, "echo_server: %s\n", recorded.status().ToString().c_str());
    return 1;
  }
  if (!recorded->empty()) std::fprintf(stderr, "echo_server: recorded %s\n", recorded->c_str());
  return 0;
}
