// gRPC load generator for the Echo service, the common client of bench/grpc_compare.
//
//   grpc_load --target=127.0.0.1:7001 --mode=unary --concurrency=16 --duration=3
//   grpc_load --target=127.0.0.1:7001 --mode=stream --concurrency=4 --window=16
//
// unary: `concurrency` Say calls kept in flight (callback API, stub->async()->Say), each
// re-issued when it ends. stream: `concurrency` Chat streams (ClientBidiReactor), each keeping
// `window` requests in flight: it sends `window`, then one more per reply. Every reply is checked
// against what was sent (in order, for streams); a call that fails or a reply that differs ends
// its slot (no retry storm against a server that does not implement the method).
//
// Channels: --channels=C (default 1) opens C channels, each its own TCP connection (distinct
// channel arguments and a local subchannel pool, so gRPC does not share one connection), and
// deals the calls or streams out round-robin. One channel is what bench/grpc_compare uses: both
// servers see the same single HTTP/2 connection.
//
// Prints one JSON line:
//   {"mode": "unary", "calls_per_s": ..., "p50_us": ..., "p99_us": ..., "errors": 0,
//    "mismatches": 0, "total": ..., "unfinished": 0}
// calls_per_s counts completed calls (unary) or replies (stream) over the measured interval;
// p50/p99 are the latencies of every 16th of them (stream: request written to reply read);
// total counts every correct reply from start to drain (warm-up included), for CPU per call.
// Exits 1 on any RPC error, mismatch or call still unfinished 10 s after the end, or if nothing
// completed.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "actors/tls/tls_flags.h"
#include "grpcpp/grpcpp.h"
#include "proto/echo.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:7001", "server host:port");
ABSL_FLAG(std::string, mode, "unary", "unary or stream");
ABSL_FLAG(int, concurrency, 16, "calls in flight (unary) or streams (stream)");
ABSL_FLAG(int, window, 16, "requests in flight per stream (stream mode)");
ABSL_FLAG(int, channels, 1, "channels (TCP connections) to deal the calls or streams over");
ABSL_FLAG(double, duration, 3, "measured seconds");
ABSL_FLAG(double, warmup, 1, "seconds before measuring");
ABSL_FLAG(int, message_size, 32, "request text bytes (at least the sequence number and ':')");

namespace {

using troupe::examples::Echo;
using troupe::examples::EchoReply;
using troupe::examples::EchoRequest;

// Shared by all calls: the measuring window, counters and sampled latencies.
struct Run {
  size_t message_size = 0;
  std::atomic<bool> measuring{false};
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> completed{0};  // in the measured window
  std::atomic<uint64_t> total{0};      // from start to drain
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> mismatches{0};
  std::atomic<int> active{0};  // calls (unary) or streams (stream) not yet ended
  std::mutex mu;
  std::vector<double> latencies_us;  // every 16th measured completion

  void Record(absl::Duration latency) {
    total.fetch_add(1, std::memory_order_relaxed);
    if (!measuring.load(std::memory_order_relaxed)) return;
    const uint64_t n = completed.fetch_add(1, std::memory_order_relaxed);
    if (n % 16 == 0) {
      std::lock_guard<std::mutex> lock(mu);
      latencies_us.push_back(absl::ToDoubleMicroseconds(latency));
    }
  }

  // The text of request `i`: unique per call or per stream position, padded to message_size.
  std::string Text(uint64_t i) const {
    std::string text = std::to_string(i) + ":";
    text.resize(std::max(text.size(), message_size), 'x');
    return text;
  }
};

// One unary call; the next one starts when it is done (on gRPC's callback thread).
class UnaryCall final : public grpc::ClientUnaryReactor {
 public:
  static void Start(Echo::Stub* stub, Run* run, uint64_t i) {
    auto* call = new UnaryCall(stub, run, i);
    stub->async()->Say(&call->context_, &call->request_, &call->reply_, call);
    call->StartCall();
  }
  void OnDone(const grpc::Status& status) override {
    bool ok = false;
    if (!status.ok()) {
      if (run_->errors.fetch_add(1) == 0) {
        std::fprintf(stderr, "grpc_load: Say failed: %d %s\n", status.error_code(),
                     status.error_message().c_str());
      }
    } else if (reply_.text() != request_.text()) {
      run_->mismatches.fetch_add(1);
    } else {
      run_->Record(absl::Now() - start_);
      ok = true;
    }
    if (ok && !run_->stopping.load(std::memory_order_relaxed)) {
      Start(stub_, run_, i_ + 1);
    } else {
      run_->active.fetch_sub(1);
    }
    delete this;
  }

 private:
  UnaryCall(Echo::Stub* stub, Run* run, uint64_t i) : stub_(stub), run_(run), i_(i) {
    request_.set_text(run->Text(i));
    // Both servers see a deadline, as real clients send one (the gateway passes it to the ask).
    context_.set_deadline(absl::ToChronoTime(start_ + absl::Seconds(30)));
  }
  Echo::Stub* stub_;
  Run* run_;
  uint64_t i_;
  absl::Time start_ = absl::Now();
  grpc::ClientContext context_;
  EchoRequest request_;
  EchoReply reply_;
};

// One Chat stream with `window` requests in flight. gRPC allows one outstanding write and one
// outstanding read per stream: writes are counted in to_send_ and issued one at a time; a read is
// outstanding until every sent request has its reply. Every operation after StartCall is started
// from a reaction (OnReadDone/OnWriteDone), so the stream needs no AddHold.
class ChatStream final : public grpc::ClientBidiReactor<EchoRequest, EchoReply> {
 public:
  ChatStream(Echo::Stub* stub, Run* run, int window) : run_(run), to_send_(window) {
    stub->async()->Chat(&context_, this);
    StartRead(&reply_);
    PumpWrites();
    StartCall();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {  // the stream is broken: OnDone reports its status
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      closed_ = true;
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
    }
    PumpWrites();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended: OnDone follows
    bool more;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (sent_at_.empty() || reply_.text() != run_->Text(next_reply_)) {
        run_->mismatches.fetch_add(1);
        stop_ = true;
        context_.TryCancel();
        return;
      }
      ++next_reply_;
      run_->Record(absl::Now() - sent_at_.front());
      sent_at_.pop_front();
      if (run_->stopping.load(std::memory_order_relaxed)) stop_ = true;
      if (!stop_) ++to_send_;
      more = !stop_ || !sent_at_.empty();
    }
    PumpWrites();
    if (more) StartRead(&reply_);
  }
  void OnDone(const grpc::Status& status) override {
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
      if (run_->errors.fetch_add(1) == 0) {
        std::fprintf(stderr, "grpc_load: Chat failed: %d %s\n", status.error_code(),
                     status.error_message().c_str());
      }
    }
    run_->active.fetch_sub(1);
    delete this;
  }

 private:
  // Issues the next queued write, or half-closes once stopping and every reply is in.
  void PumpWrites() {
    bool write = false, close = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (writing_ || closed_) return;
      if (run_->stopping.load(std::memory_order_relaxed)) stop_ = true;
      if (to_send_ > 0 && !stop_) {
        --to_send_;
        writing_ = write = true;
        request_.set_text(run_->Text(next_request_++));
        sent_at_.push_back(absl::Now());
      } else if (stop_ && sent_at_.empty()) {
        closed_ = close = true;
      }
    }
    if (write) StartWrite(&request_);
    if (close) StartWritesDone();
  }

  Run* run_;
  grpc::ClientContext context_;
  EchoRequest request_;
  EchoReply reply_;
  std::mutex mu_;
  int to_send_;
  bool writing_ = false;
  bool closed_ = false;  // WritesDone issued, or a write failed
  bool stop_ = false;    // no new requests: the run is stopping or a reply was wrong
  uint64_t next_request_ = 0;
  uint64_t next_reply_ = 0;
  std::deque<absl::Time> sent_at_;
};

// Sleeps `d`, or less if every call or stream has ended (a server that fails everything).
void SleepWhileActive(const Run& run, absl::Duration d) {
  const absl::Time end = absl::Now() + d;
  while (run.active.load() > 0) {
    const absl::Duration left = end - absl::Now();
    if (left <= absl::ZeroDuration()) return;
    absl::SleepFor(std::min(left, absl::Milliseconds(20)));
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const std::string target = absl::GetFlag(FLAGS_target);
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  const int channels = std::max(1, absl::GetFlag(FLAGS_channels));
  if ((mode != "unary" && mode != "stream") || concurrency < 1 || absl::GetFlag(FLAGS_window) < 1) {
    std::fprintf(stderr,
                 "grpc_load: --mode must be unary or stream, --concurrency and --window "
                 "at least 1\n");
    return 2;
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      troupe::ChannelCredentialsFromFlags();  // --tls_*: mutual TLS
  if (!credentials.ok()) {
    std::fprintf(stderr, "grpc_load: %s\n", credentials.status().ToString().c_str());
    return 1;
  }
  std::vector<std::unique_ptr<Echo::Stub>> stubs;
  for (int c = 0; c < channels; ++c) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("grpc_load.channel", c);  // distinct arguments: a connection of its own
    auto channel = grpc::CreateCustomChannel(target, *credentials, args);
    if (!channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(5)))) {
      std::fprintf(stderr, "grpc_load: cannot connect to %s\n", target.c_str());
      return 1;
    }
    stubs.push_back(Echo::NewStub(channel));
  }

  Run run;
  run.message_size = static_cast<size_t>(std::max(0, absl::GetFlag(FLAGS_message_size)));
  run.active = concurrency;
  for (int i = 0; i < concurrency; ++i) {
    Echo::Stub* stub = stubs[i % channels].get();
    if (mode == "unary") {
      UnaryCall::Start(stub, &run, static_cast<uint64_t>(i) << 40);  // distinct texts per slot
    } else {
      new ChatStream(stub, &run, absl::GetFlag(FLAGS_window));
    }
  }
  SleepWhileActive(run, absl::Seconds(absl::GetFlag(FLAGS_warmup)));
  run.measuring = true;
  const absl::Time start = absl::Now();
  SleepWhileActive(run, absl::Seconds(absl::GetFlag(FLAGS_duration)));
  run.measuring = false;
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const uint64_t completed = run.completed.load();
  run.stopping = true;
  const absl::Time limit = absl::Now() + absl::Seconds(10);
  while (run.active.load() > 0 && absl::Now() < limit) absl::SleepFor(absl::Milliseconds(5));
  const int unfinished = run.active.load();

  std::vector<double> lat;
  {
    std::lock_guard<std::mutex> lock(run.mu);
    lat = run.latencies_us;
  }
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return lat.empty() ? 0.0 : lat[static_cast<size_t>(p * (lat.size() - 1))];
  };
  std::printf(
      "{\"mode\": \"%s\", \"calls_per_s\": %.0f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
      "\"errors\": %llu, \"mismatches\": %llu, \"total\": %llu, \"unfinished\": %d}\n",
      mode.c_str(), completed / seconds, pct(0.5), pct(0.99),
      static_cast<unsigned long long>(run.errors.load()),
      static_cast<unsigned long long>(run.mismatches.load()),
      static_cast<unsigned long long>(run.total.load()), unfinished);
  std::fflush(stdout);
  const bool ok =
      run.errors.load() == 0 && run.mismatches.load() == 0 && unfinished == 0 && completed > 0;
  // Calls still in flight would touch `run` and the stubs after main returns: leave at once.
  if (unfinished > 0) std::_Exit(1);
  return ok ? 0 : 1;
}
