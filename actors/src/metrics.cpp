#include "eventcore/actors/metrics.hpp"

#include <array>
#include <atomic>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <utility>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

namespace eventcore {

namespace {

constexpr std::size_t bucket_count = std::size(RuntimeMetrics::latency_bounds) + 1;  // and +Inf

struct Histogram {
  std::array<std::uint64_t, bucket_count> buckets{};
  std::uint64_t sum_ns = 0;

  void observe(std::chrono::nanoseconds d) noexcept {
    const double seconds = std::chrono::duration<double>(d).count();
    std::size_t i = 0;
    while (i + 1 < bucket_count && seconds > RuntimeMetrics::latency_bounds[i]) ++i;
    ++buckets[i];
    sum_ns += static_cast<std::uint64_t>(d.count() < 0 ? 0 : d.count());
  }
  void add(const Histogram& other) noexcept {
    for (std::size_t i = 0; i < bucket_count; ++i) buckets[i] += other.buckets[i];
    sum_ns += other.sum_ns;
  }
};

// (type, outcome) ordered, looked up without building strings.
struct KeyLess {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const noexcept {
    return std::pair<std::string_view, std::string_view>(a.first, a.second) <
           std::pair<std::string_view, std::string_view>(b.first, b.second);
  }
};

// A power of two above the worker threads of most machines: threads beyond
// it share shards (still correct, under the shard's lock).
constexpr std::size_t shard_count = 16;

std::size_t my_shard() noexcept {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed) % shard_count;
  return mine;
}

}  // namespace

struct RuntimeMetrics::Counts {
  std::map<std::pair<std::string, std::string>, std::uint64_t, KeyLess> commands;
  std::uint64_t events_written = 0;
  std::array<std::uint64_t, 2> retries{};  // conflict, transient
  Histogram total;
  std::array<Histogram, 4> phases;  // prepare, reconstruct, handle, write

  void add(const Counts& other) {
    for (const auto& [key, n] : other.commands) commands[key] += n;
    events_written += other.events_written;
    for (std::size_t i = 0; i < retries.size(); ++i) retries[i] += other.retries[i];
    total.add(other.total);
    for (std::size_t i = 0; i < phases.size(); ++i) phases[i].add(other.phases[i]);
  }
};

// Its own cache lines: two threads' shards never share one.
struct alignas(64) RuntimeMetrics::Shard {
  mutable std::mutex mutex;
  Counts counts;
};

RuntimeMetrics::RuntimeMetrics() : shards_(std::make_unique<Shard[]>(shard_count)) {}
RuntimeMetrics::~RuntimeMetrics() = default;

void RuntimeMetrics::record_command(std::string_view type, std::string_view outcome, const PhaseTimings& timings,
                                    std::size_t events_written) {
  Shard& shard = shards_[my_shard()];
  std::lock_guard lock(shard.mutex);
  Counts& c = shard.counts;
  const std::pair<std::string_view, std::string_view> key(type, outcome);
  if (auto it = c.commands.find(key); it != c.commands.end())
    ++it->second;
  else
    c.commands.emplace(std::pair(std::string(type), std::string(outcome)), 1);
  c.events_written += events_written;
  c.total.observe(timings.total);
  c.phases[0].observe(timings.prepare);
  c.phases[1].observe(timings.reconstruct);
  c.phases[2].observe(timings.handle);
  c.phases[3].observe(timings.write);
}

void RuntimeMetrics::record_retry(RetryReason reason) {
  Shard& shard = shards_[my_shard()];
  std::lock_guard lock(shard.mutex);
  ++shard.counts.retries[reason == RetryReason::conflict ? 0 : 1];
}

RuntimeMetrics::Counts RuntimeMetrics::sum() const {
  Counts out;
  for (std::size_t i = 0; i < shard_count; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    out.add(shards_[i].counts);
  }
  return out;
}

std::uint64_t RuntimeMetrics::commands(std::string_view type, std::string_view outcome) const {
  const auto commands = sum().commands;
  const auto it = commands.find(std::pair<std::string_view, std::string_view>(type, outcome));
  return it == commands.end() ? 0 : it->second;
}

std::uint64_t RuntimeMetrics::commands_total() const {
  std::uint64_t n = 0;
  for (const auto& [key, count] : sum().commands) n += count;
  return n;
}

std::uint64_t RuntimeMetrics::events_written() const { return sum().events_written; }

std::uint64_t RuntimeMetrics::retries(RetryReason reason) const {
  return sum().retries[reason == RetryReason::conflict ? 0 : 1];
}

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

ClientMetric counter(double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = value;
  return m;
}

ClientMetric histogram(const Histogram& h, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i + 1 < bucket_count; ++i)
    m.histogram.bucket.push_back({running += h.buckets[i], RuntimeMetrics::latency_bounds[i]});
  running += h.buckets.back();
  m.histogram.bucket.push_back({running, std::numeric_limits<double>::infinity()});
  m.histogram.sample_count = running;
  m.histogram.sample_sum = static_cast<double>(h.sum_ns) / 1e9;
  return m;
}

}  // namespace

// prometheus-cpp's data model, filled from the shards at collection time:
// the command path never takes prometheus-cpp's locks.
std::vector<MetricFamily> RuntimeMetrics::collect() const {
  const Counts c = sum();
  std::vector<MetricFamily> out;
  MetricFamily commands{"eventcore_commands_total", "Commands finished, by command type and outcome.",
                        MetricType::Counter, {}};
  for (const auto& [key, count] : c.commands)
    commands.metric.push_back(counter(static_cast<double>(count), {{"type", key.first}, {"outcome", key.second}}));
  out.push_back(std::move(commands));
  out.push_back({"eventcore_events_written_total", "Events written by commands.", MetricType::Counter,
                 {counter(static_cast<double>(c.events_written))}});
  out.push_back({"eventcore_command_retries_total", "Failed attempts that were tried again, by reason.",
                 MetricType::Counter,
                 {counter(static_cast<double>(c.retries[0]), {{"reason", "conflict"}}),
                  counter(static_cast<double>(c.retries[1]), {{"reason", "transient"}})}});
  out.push_back({"eventcore_command_duration_seconds", "Time from start to outcome, all attempts.",
                 MetricType::Histogram, {histogram(c.total)}});
  MetricFamily phases{"eventcore_command_phase_seconds", "Time per phase of a command's last attempt.",
                      MetricType::Histogram, {}};
  static constexpr const char* names[] = {"prepare", "reconstruct", "handle", "write"};
  for (std::size_t i = 0; i < c.phases.size(); ++i) phases.metric.push_back(histogram(c.phases[i], {{"phase", names[i]}}));
  out.push_back(std::move(phases));
  return out;
}

std::string RuntimeMetrics::render_prometheus() const { return prometheus::TextSerializer().Serialize(collect()); }

}  // namespace eventcore
