#include "framework/metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <charconv>

#include "absl/strings/str_cat.h"

namespace troupe::metrics {

int ThreadShard() {
  static std::atomic<int> next{0};
  thread_local const int shard = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return shard;
}

uint64_t Counter::Value() const {
  uint64_t sum = 0;
  for (const Shard& s : shards_) sum += s.value.load(std::memory_order_relaxed);
  return sum;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> bounds;
  bounds.reserve(count);
  for (double b = start; static_cast<int>(bounds.size()) < count; b *= factor) bounds.push_back(b);
  return bounds;
}

bool HistogramSnapshot::Merge(const HistogramSnapshot& other) {
  if (bounds.empty() && counts.empty()) {
    *this = other;
    return true;
  }
  if (bounds != other.bounds || counts.size() != other.counts.size()) return false;
  for (size_t i = 0; i < counts.size(); ++i) counts[i] += other.counts[i];
  overflow += other.overflow;
  sum += other.sum;
  count += other.count;
  return true;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  for (Shard& s : shards_) {
    s.counts = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
    for (size_t i = 0; i <= bounds_.size(); ++i) s.counts[i].store(0, std::memory_order_relaxed);
  }
}

void Histogram::Observe(double v) {
  // The first bound >= v (Prometheus' buckets are "less than or equal").
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  Shard& s = shards_[ThreadShard()];
  s.counts[i].fetch_add(1, std::memory_order_relaxed);
  s.sum.fetch_add(v, std::memory_order_relaxed);
}

HistogramSnapshot Histogram::Snapshot() const {
  HistogramSnapshot snap;
  snap.bounds = bounds_;
  snap.counts.assign(bounds_.size(), 0);
  for (const Shard& s : shards_) {
    for (size_t i = 0; i < bounds_.size(); ++i) {
      snap.counts[i] += s.counts[i].load(std::memory_order_relaxed);
    }
    snap.overflow += s.counts[bounds_.size()].load(std::memory_order_relaxed);
    snap.sum += s.sum.load(std::memory_order_relaxed);
  }
  snap.count = snap.overflow;
  for (uint64_t c : snap.counts) snap.count += c;
  return snap;
}

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  return IsValidMetricName(name) && name.find(':') == std::string_view::npos &&
         name.substr(0, 2) != "__";
}

Collection::Family* Collection::FamilyFor(std::string_view name, std::string_view help,
                                          Type type) {
  if (!IsValidMetricName(name)) {
    conflicts_.push_back(std::string(name));
    return nullptr;
  }
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{type, std::string(help), {}}).first;
  } else if (it->second.type != type) {
    conflicts_.push_back(std::string(name));
    return nullptr;
  }
  return &it->second;
}

namespace {
bool LabelsValid(const Collection::Labels& labels) {
  for (const auto& [k, v] : labels) {
    if (!IsValidLabelName(k)) return false;
  }
  return true;
}
}  // namespace

void Collection::Counter(std::string_view name, std::string_view help, Labels labels,
                         double value) {
  if (!LabelsValid(labels)) return conflicts_.push_back(std::string(name));
  if (Family* f = FamilyFor(name, help, Type::kCounter)) {
    f->samples.push_back({std::move(labels), value, {}});
  }
}

void Collection::Gauge(std::string_view name, std::string_view help, Labels labels,
                       double value) {
  if (!LabelsValid(labels)) return conflicts_.push_back(std::string(name));
  if (Family* f = FamilyFor(name, help, Type::kGauge)) {
    f->samples.push_back({std::move(labels), value, {}});
  }
}

void Collection::Histogram(std::string_view name, std::string_view help, Labels labels,
                           HistogramSnapshot snapshot) {
  if (!LabelsValid(labels)) return conflicts_.push_back(std::string(name));
  if (Family* f = FamilyFor(name, help, Type::kHistogram)) {
    f->samples.push_back({std::move(labels), 0, std::move(snapshot)});
  }
}

template <typename M>
M& Family<M>::With(const std::vector<std::string>& values) {
  std::vector<std::string> key = values;
  key.resize(label_names_.size());  // a wrong count is padded or cut, never a crash
  MutexLock lock(&mu_);
  std::unique_ptr<M>& child = children_[key];
  if (!child) child = make_();
  return *child;
}

template <typename M>
void Family<M>::Collect(Collection& out) const {
  MutexLock lock(&mu_);
  for (const auto& [values, child] : children_) {
    Collection::Labels labels;
    for (size_t i = 0; i < label_names_.size(); ++i) labels.emplace_back(label_names_[i], values[i]);
    if constexpr (std::is_same_v<M, metrics::Counter>) {
      out.Counter(name_, help_, std::move(labels), static_cast<double>(child->Value()));
    } else if constexpr (std::is_same_v<M, metrics::Gauge>) {
      out.Gauge(name_, help_, std::move(labels), child->Value());
    } else {
      out.Histogram(name_, help_, std::move(labels), child->Snapshot());
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Family<Counter>& Registry::AddCounter(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names) {
  MutexLock lock(&mu_);
  auto& f = counters_[name];
  if (!f) {
    f.reset(new Family<Counter>(name, help, std::move(label_names),
                                [] { return std::make_unique<Counter>(); }));
  }
  return *f;
}

Family<Gauge>& Registry::AddGauge(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names) {
  MutexLock lock(&mu_);
  auto& f = gauges_[name];
  if (!f) {
    f.reset(new Family<Gauge>(name, help, std::move(label_names),
                              [] { return std::make_unique<Gauge>(); }));
  }
  return *f;
}

Family<Histogram>& Registry::AddHistogram(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> bounds) {
  MutexLock lock(&mu_);
  auto& f = histograms_[name];
  if (!f) {
    f.reset(new Family<Histogram>(name, help, std::move(label_names), [bounds] {
      return std::make_unique<Histogram>(bounds);
    }));
  }
  return *f;
}

uint64_t Registry::AddCollector(Collector collect) {
  MutexLock lock(&mu_);
  const uint64_t id = next_collector_++;
  collectors_.emplace(id, std::move(collect));
  return id;
}

void Registry::RemoveCollector(uint64_t id) {
  MutexLock lock(&mu_);
  collectors_.erase(id);
}

Collection Registry::Collect() const {
  Collection out;
  MutexLock lock(&mu_);
  for (const auto& [name, f] : counters_) f->Collect(out);
  for (const auto& [name, f] : gauges_) f->Collect(out);
  for (const auto& [name, f] : histograms_) f->Collect(out);
  for (const auto& [id, collect] : collectors_) collect(out);
  return out;
}

std::string Registry::TextFormat() const { return metrics::TextFormat(Collect()); }

namespace {

void AppendEscaped(std::string& out, std::string_view s, bool quotes) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void AppendValue(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
    absl::StrAppend(&out, static_cast<int64_t>(v));
  } else {
    char buf[32];  // the shortest text that reads back as `v`
    const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    out.append(buf, ec == std::errc() ? end - buf : 0);
  }
}

void AppendLabels(std::string& out, const Collection::Labels& labels,
                  const std::pair<std::string, std::string>* extra = nullptr) {
  if (labels.empty() && extra == nullptr) return;
  out += '{';
  bool first = true;
  auto one = [&](const std::string& k, const std::string& v) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    AppendEscaped(out, v, /*quotes=*/true);
    out += '"';
  };
  for (const auto& [k, v] : labels) one(k, v);
  if (extra != nullptr) one(extra->first, extra->second);
  out += '}';
}

}  // namespace

std::string TextFormat(const Collection& collection) {
  std::string out;
  for (const auto& [name, family] : collection.families()) {
    absl::StrAppend(&out, "# HELP ", name, " ");
    AppendEscaped(out, family.help, /*quotes=*/false);
    out += '\n';
    const char* type = family.type == Type::kCounter ? "counter"
                       : family.type == Type::kGauge ? "gauge"
                                                     : "histogram";
    absl::StrAppend(&out, "# TYPE ", name, " ", type, "\n");
    for (const Collection::Sample& s : family.samples) {
      if (family.type != Type::kHistogram) {
        out += name;
        AppendLabels(out, s.labels);
        out += ' ';
        AppendValue(out, s.value);
        out += '\n';
        continue;
      }
      const HistogramSnapshot& h = s.histogram;
      uint64_t cumulative = 0;
      for (size_t i = 0; i <= h.bounds.size(); ++i) {
        std::pair<std::string, std::string> le;
        le.first = "le";
        if (i < h.bounds.size()) {
          cumulative += i < h.counts.size() ? h.counts[i] : 0;
          AppendValue(le.second, h.bounds[i]);
        } else {
          cumulative += h.overflow;
          le.second = "+Inf";
        }
        absl::StrAppend(&out, name, "_bucket");
        AppendLabels(out, s.labels, &le);
        absl::StrAppend(&out, " ", cumulative, "\n");
      }
      absl::StrAppend(&out, name, "_sum");
      AppendLabels(out, s.labels);
      out += ' ';
      AppendValue(out, h.sum);
      absl::StrAppend(&out, "\n", name, "_count");
      AppendLabels(out, s.labels);
      absl::StrAppend(&out, " ", h.count, "\n");
    }
  }
  return out;
}

}  // namespace troupe::metrics
