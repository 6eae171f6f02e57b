// gRPC load generator for the Echo service, the common client of bench/grpc_compare.
//
//   grpc_load --target=127.0.0.1:7001 --mode=unary --concurrency=16 --duration=3
//   grpc_load --target=127.0.0.1:7001 --mode=stream --concurrency=4 --window=16
//
// unary: `concurrency` Say calls kept in flight (callback API), each re-issued when it ends.
// stream: `concurrency` Chat streams, each keeping `window` requests in flight (a new one per
// reply). Every reply is checked against what was sent, in order for streams. Prints one JSON
// line: calls (or messages) per second over the measured interval, latency percentiles,
// errors. Exits 1 on any error or mismatch.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "proto/echo.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:7001", "server host:port");
ABSL_FLAG(std::string, mode, "unary", "unary or stream");
ABSL_FLAG(int, concurrency, 16, "calls in flight (unary) or streams (stream)");
ABSL_FLAG(int, window, 16, "requests in flight per stream");
ABSL_FLAG(double, duration, 3, "measured seconds");
ABSL_FLAG(double, warmup, 1, "seconds before measuring");
ABSL_FLAG(int, message_size, 32, "request text bytes");

namespace {

using troupe::examples::Echo;
using troupe::examples::EchoReply;
using troupe::examples::EchoRequest;

// Shared by all calls: the measuring window, counters and sampled latencies.
struct Run {
  std::atomic<bool> measuring{false};
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> completed{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<int> active{0};
  std::mutex mu;
  std::vector<double> latencies_us;  // every 16th measured completion

  void Record(absl::Duration latency) {
    if (!measuring.load(std::memory_order_relaxed)) return;
    const uint64_t n = completed.fetch_add(1, std::memory_order_relaxed);
    if (n % 16 == 0) {
      std::lock_guard<std::mutex> lock(mu);
      latencies_us.push_back(absl::ToDoubleMicroseconds(latency));
    }
  }
};

std::string Text(int i) {
  std::string text = std::to_string(i) + ":";
  text.resize(std::max<size_t>(text.size(), absl::GetFlag(FLAGS_message_size)), 'x');
  return text;
}

// One unary call; the next one starts when it is done.
class UnaryCall final : public grpc::ClientUnaryReactor {
 public:
  static void Start(Echo::Stub* stub, Run* run, int i) {
    auto* call = new UnaryCall(stub, run, i);
    stub->async()->Say(&call->context_, &call->request_, &call->reply_, call);
    call->StartCall();
  }
  void OnDone(const grpc::Status& status) override {
    if (!status.ok() || reply_.text() != request_.text()) {
      run_->errors.fetch_add(1);
    } else {
      run_->Record(absl::Now() - start_);
    }
    if (!run_->stopping.load()) {
      Start(stub_, run_, i_ + 1);
    } else {
      run_->active.fetch_sub(1);
    }
    delete this;
  }

 private:
  UnaryCall(Echo::Stub* stub, Run* run, int i) : stub_(stub), run_(run), i_(i) {
    request_.set_text(Text(i));
    context_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  }
  Echo::Stub* stub_;
  Run* run_;
  int i_;
  grpc::ClientContext context_;
  EchoRequest request_;
  EchoReply reply_;
  absl::Time start_ = absl::Now();
};

// One Chat stream with `window` requests in flight.
class ChatStream final : public grpc::ClientBidiReactor<EchoRequest, EchoReply> {
 public:
  ChatStream(Echo::Stub* stub, Run* run, int window) : run_(run) {
    stub->async()->Chat(&context_, this);
    {
      std::lock_guard<std::mutex> lock(mu_);
      to_send_ = window;
    }
    StartRead(&reply_);
    PumpWrites();
    StartCall();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      run_->errors.fetch_add(1);
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
      const std::string want = Text(next_reply_++);
      if (reply_.text() != want) run_->errors.fetch_add(1);
      const absl::Time sent = sent_at_.front();
      sent_at_.erase(sent_at_.begin());
      run_->Record(absl::Now() - sent);
      if (!run_->stopping.load()) ++to_send_;
      more = !run_->stopping.load() || !sent_at_.empty();
    }
    PumpWrites();
    if (more) StartRead(&reply_);
  }
  void OnDone(const grpc::Status& status) override {
    if (!status.ok()) run_->errors.fetch_add(1);
    run_->active.fetch_sub(1);
    delete this;
  }

 private:
  void PumpWrites() {
    bool write = false, close = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (writing_ || closed_) return;
      if (to_send_ > 0) {
        --to_send_;
        writing_ = write = true;
        request_.set_text(Text(next_request_++));
        sent_at_.push_back(absl::Now());
      } else if (run_->stopping.load() && sent_at_.empty()) {
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
  int to_send_ = 0;
  bool writing_ = false;
  bool closed_ = false;
  int next_request_ = 0;
  int next_reply_ = 0;
  std::vector<absl::Time> sent_at_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  auto channel =
      grpc::CreateChannel(absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(5)))) {
    std::fprintf(stderr, "grpc_load: cannot connect to %s\n", absl::GetFlag(FLAGS_target).c_str());
    return 1;
  }
  auto stub = Echo::NewStub(channel);
  Run run;
  run.active = concurrency;
  for (int i = 0; i < concurrency; ++i) {
    if (mode == "unary") {
      UnaryCall::Start(stub.get(), &run, i * 1000000);
    } else {
      new ChatStream(stub.get(), &run, absl::GetFlag(FLAGS_window));
    }
  }
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_warmup)));
  run.measuring = true;
  const absl::Time start = absl::Now();
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_duration)));
  run.measuring = false;
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const uint64_t completed = run.completed.load();
  run.stopping = true;
  const absl::Time limit = absl::Now() + absl::Seconds(10);
  while (run.active.load() > 0 && absl::Now() < limit) absl::SleepFor(absl::Milliseconds(5));

  std::vector<double>& lat = run.latencies_us;
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return lat.empty() ? 0.0 : lat[static_cast<size_t>(p * (lat.size() - 1))];
  };
  std::printf(
      "{\"mode\": \"%s\", \"per_s\": %.0f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
      "\"errors\": %llu}\n",
      mode.c_str(), completed / seconds, pct(0.5), pct(0.99),
      static_cast<unsigned long long>(run.errors.load()));
  return run.errors.load() == 0 && completed > 0 ? 0 : 1;
}
