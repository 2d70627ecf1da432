#include "eventcore/actors/metrics.hpp"

#include <limits>
#include <mutex>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

namespace eventcore {

void LatencyHistogram::observe(std::chrono::nanoseconds d) noexcept {
  const double seconds = std::chrono::duration<double>(d).count();
  std::size_t i = 0;
  while (i < bounds.size() && seconds > bounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(d.count() < 0 ? 0 : d.count()), std::memory_order_relaxed);
}

std::array<std::uint64_t, LatencyHistogram::bounds.size() + 1> LatencyHistogram::cumulative() const noexcept {
  std::array<std::uint64_t, bounds.size() + 1> out{};
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = running += buckets_[i].load(std::memory_order_relaxed);
  return out;
}

double LatencyHistogram::sum_seconds() const noexcept {
  return static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
}

std::uint64_t LatencyHistogram::count() const noexcept { return cumulative().back(); }

void RuntimeMetrics::record_command(std::string_view type, std::string_view outcome, const PhaseTimings& timings,
                                    std::size_t events_written) {
  const std::pair<std::string_view, std::string_view> key(type, outcome);
  bool counted = false;
  {
    std::shared_lock lock(mutex_);
    if (auto it = commands_.find(key); it != commands_.end()) {
      it->second.fetch_add(1, std::memory_order_relaxed);
      counted = true;
    }
  }
  if (!counted) {
    std::unique_lock lock(mutex_);
    commands_.try_emplace(std::pair(std::string(type), std::string(outcome)), 0).first->second.fetch_add(1, std::memory_order_relaxed);
  }
  events_written_.fetch_add(events_written, std::memory_order_relaxed);
  total_.observe(timings.total);
  phases_[0].observe(timings.prepare);
  phases_[1].observe(timings.reconstruct);
  phases_[2].observe(timings.handle);
  phases_[3].observe(timings.write);
}

void RuntimeMetrics::record_retry(RetryReason reason) noexcept {
  retries_[reason == RetryReason::conflict ? 0 : 1].fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t RuntimeMetrics::commands(std::string_view type, std::string_view outcome) const {
  std::shared_lock lock(mutex_);
  auto it = commands_.find(std::pair<std::string_view, std::string_view>(type, outcome));
  return it == commands_.end() ? 0 : it->second.load(std::memory_order_relaxed);
}

std::uint64_t RuntimeMetrics::commands_total() const {
  std::shared_lock lock(mutex_);
  std::uint64_t n = 0;
  for (const auto& [key, count] : commands_) n += count.load(std::memory_order_relaxed);
  return n;
}

std::uint64_t RuntimeMetrics::retries(RetryReason reason) const noexcept {
  return retries_[reason == RetryReason::conflict ? 0 : 1].load(std::memory_order_relaxed);
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

ClientMetric histogram(const LatencyHistogram& h, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  const auto counts = h.cumulative();
  for (std::size_t i = 0; i < LatencyHistogram::bounds.size(); ++i)
    m.histogram.bucket.push_back({counts[i], LatencyHistogram::bounds[i]});
  m.histogram.bucket.push_back({counts.back(), std::numeric_limits<double>::infinity()});
  m.histogram.sample_count = counts.back();
  m.histogram.sample_sum = h.sum_seconds();
  return m;
}

}  // namespace

// prometheus-cpp's data model, filled from the runtime's own atomics at
// collection time: the command path never takes prometheus-cpp's locks.
std::vector<MetricFamily> RuntimeMetrics::collect() const {
  std::vector<MetricFamily> out;
  MetricFamily commands{"eventcore_commands_total", "Commands finished, by command type and outcome.",
                        MetricType::Counter, {}};
  {
    std::shared_lock lock(mutex_);
    for (const auto& [key, count] : commands_)
      commands.metric.push_back(counter(static_cast<double>(count.load(std::memory_order_relaxed)),
                                        {{"type", key.first}, {"outcome", key.second}}));
  }
  out.push_back(std::move(commands));
  out.push_back({"eventcore_events_written_total", "Events written by commands.", MetricType::Counter,
                 {counter(static_cast<double>(events_written()))}});
  out.push_back({"eventcore_command_retries_total", "Failed attempts that were tried again, by reason.",
                 MetricType::Counter,
                 {counter(static_cast<double>(retries(RetryReason::conflict)), {{"reason", "conflict"}}),
                  counter(static_cast<double>(retries(RetryReason::transient)), {{"reason", "transient"}})}});
  out.push_back({"eventcore_command_duration_seconds", "Time from start to outcome, all attempts.",
                 MetricType::Histogram, {histogram(total_)}});
  MetricFamily phases{"eventcore_command_phase_seconds", "Time per phase of a command's last attempt.",
                      MetricType::Histogram, {}};
  static constexpr const char* names[] = {"prepare", "reconstruct", "handle", "write"};
  for (std::size_t i = 0; i < phases_.size(); ++i) phases.metric.push_back(histogram(phases_[i], {{"phase", names[i]}}));
  out.push_back(std::move(phases));
  return out;
}

std::string RuntimeMetrics::render_prometheus() const { return prometheus::TextSerializer().Serialize(collect()); }

}  // namespace eventcore
