// Metrics: counters, gauges and histograms with labels, cheap where they are counted and merged
// only when someone looks (a Prometheus scrape of /metrics, see actors/metrics).
//
//   metrics::Registry& r = system.metrics();
//   metrics::Counter& served = r.AddCounter("shop_orders_total", "Orders taken.", {"kind"})
//                                  .With({"express"});
//   served.Add();                                        // any thread, no lock, no contention
//   metrics::Histogram& latency = r.AddHistogram("shop_order_seconds", "Order latency.", {},
//                                                metrics::ExponentialBuckets(1e-4, 4, 10))
//                                     .With({});
//   latency.Observe(0.0031);
//
// Counters and histograms are sharded: each thread writes its own cache line (ThreadShard()),
// and a scrape sums the shards. So counting on a hot path is one uncontended atomic add, never a
// shared one bouncing between cores. Gauges are single atomics (they are set, not counted per
// message). State kept elsewhere (the scheduler's, an I/O backend's, a listener's statistics) is
// turned into samples at scrape time by a collector (AddCollector). Names follow Prometheus'
// conventions: `troupe_..._total` for counters, base units (`_seconds`, `_bytes`).
//
// Thread safety: everything here is thread-safe. A metric returned by With() lives as long as
// its registry; hold the reference on the hot path instead of calling With() per event.
#ifndef FRAMEWORK_METRICS_METRICS_H_
#define FRAMEWORK_METRICS_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "framework/base/mutex.h"

namespace troupe::metrics {

inline constexpr int kShards = 32;

// The shard the calling thread writes: each thread gets its own (threads beyond kShards share,
// still correctly: shards are atomic).
int ThreadShard();

class Counter {
 public:
  void Add(uint64_t n = 1) {
    shards_[ThreadShard()].value.fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t Value() const;

 private:
  struct alignas(64) Shard {
    std::atomic<uint64_t> value{0};
  };
  std::array<Shard, kShards> shards_;
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Upper bounds start, start*factor, ... (count of them), for Histogram.
std::vector<double> ExponentialBuckets(double start, double factor, int count);

// A histogram's buckets at one moment: counts per upper bound (not cumulative), the count above
// the last bound, the sum and the total count.
struct HistogramSnapshot {
  std::vector<double> bounds;
  std::vector<uint64_t> counts;  // counts[i]: observations <= bounds[i] and > bounds[i-1]
  uint64_t overflow = 0;         // above the last bound
  double sum = 0;
  uint64_t count = 0;
  // Adds `other`'s observations; false (and nothing added) if its bounds differ.
  [[nodiscard]] bool Merge(const HistogramSnapshot& other);
};

// Observations of a value (a duration in seconds, a size in bytes) into fixed buckets.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);  // ascending upper bounds
  void Observe(double v);
  HistogramSnapshot Snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  struct alignas(64) Shard {
    std::unique_ptr<std::atomic<uint64_t>[]> counts;  // bounds + 1 (the overflow)
    std::atomic<double> sum{0};
  };
  const std::vector<double> bounds_;
  std::array<Shard, kShards> shards_;
};

enum class Type { kCounter, kGauge, kHistogram };

// Samples a collector hands over at scrape time, grouped by metric name.
class Collection {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  void Counter(std::string_view name, std::string_view help, Labels labels, double value);
  void Gauge(std::string_view name, std::string_view help, Labels labels, double value);
  void Histogram(std::string_view name, std::string_view help, Labels labels,
                 HistogramSnapshot snapshot);

  struct Sample {
    Labels labels;
    double value = 0;
    HistogramSnapshot histogram;  // kHistogram only
  };
  struct Family {
    Type type;
    std::string help;
    std::vector<Sample> samples;
  };
  const std::map<std::string, Family, std::less<>>& families() const { return families_; }
  // Names met with two different types (the later samples were dropped).
  const std::vector<std::string>& conflicts() const { return conflicts_; }

 private:
  Family* FamilyFor(std::string_view name, std::string_view help, Type type);
  std::map<std::string, Family, std::less<>> families_;
  std::vector<std::string> conflicts_;
};

// A metric with labels: one child per combination of label values.
template <typename M>
class Family {
 public:
  // The child for these label values (in the order of the family's label names); created on
  // first use. Takes a lock: hold on to the result.
  M& With(const std::vector<std::string>& values);

 private:
  friend class Registry;
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<M>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        make_(std::move(make)) {}
  void Collect(Collection& out) const;

  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::function<std::unique_ptr<M>()> make_;
  mutable Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<M>> children_ ABSL_GUARDED_BY(mu_);
};

class Registry {
 public:
  using Collector = std::function<void(Collection&)>;

  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The same name again returns the family registered first (its help and labels stay).
  Family<Counter>& AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names, std::vector<double> bounds);

  // `collect` runs at every scrape (on the scraping thread, under the registry's lock: it must
  // not block or call back into the registry). Returns an id for RemoveCollector, which waits
  // for a scrape in progress: after it returns, `collect` is never called again.
  uint64_t AddCollector(Collector collect);
  void RemoveCollector(uint64_t id);

  // Every family and collector's samples.
  Collection Collect() const;
  // The same in Prometheus' text exposition format (version 0.0.4).
  std::string TextFormat() const;

 private:
  mutable Mutex mu_;
  std::map<std::string, std::unique_ptr<Family<Counter>>> counters_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<Family<Gauge>>> gauges_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<Family<Histogram>>> histograms_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Collector> collectors_ ABSL_GUARDED_BY(mu_);
  uint64_t next_collector_ ABSL_GUARDED_BY(mu_) = 1;
};

// Prometheus' text format for `collection`: families sorted by name, HELP and TYPE lines, label
// values escaped (\\, \", \n), histograms as cumulative `_bucket{le="..."}` lines ending with
// le="+Inf", then `_sum` and `_count`.
std::string TextFormat(const Collection& collection);

// A valid metric or label name ([a-zA-Z_:][a-zA-Z0-9_:]*, label names without ':').
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

}  // namespace troupe::metrics

#endif  // FRAMEWORK_METRICS_METRICS_H_
