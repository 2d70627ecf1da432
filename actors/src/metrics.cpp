#include "eventcore/actors/metrics.hpp"

#include <cstdio>
#include <mutex>

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

// A label value: backslash, double quote and newline escaped.
std::string label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void histogram(std::string& out, const std::string& name, const std::string& labels, const LatencyHistogram& h) {
  const auto counts = h.cumulative();
  const std::string sep = labels.empty() ? "" : ",";
  for (std::size_t i = 0; i < LatencyHistogram::bounds.size(); ++i)
    out += name + "_bucket{" + labels + sep + "le=\"" + number(LatencyHistogram::bounds[i]) + "\"} " +
           std::to_string(counts[i]) + "\n";
  out += name + "_bucket{" + labels + sep + "le=\"+Inf\"} " + std::to_string(counts.back()) + "\n";
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " + number(h.sum_seconds()) + "\n";
  out += name + "_count" + braces + " " + std::to_string(counts.back()) + "\n";
}

}  // namespace

std::string RuntimeMetrics::render_prometheus() const {
  std::string out;
  out += "# HELP eventcore_commands_total Commands finished, by command type and outcome.\n";
  out += "# TYPE eventcore_commands_total counter\n";
  {
    std::shared_lock lock(mutex_);
    for (const auto& [key, count] : commands_)
      out += "eventcore_commands_total{type=\"" + label(key.first) + "\",outcome=\"" + label(key.second) + "\"} " +
             std::to_string(count.load(std::memory_order_relaxed)) + "\n";
  }
  out += "# HELP eventcore_events_written_total Events written by commands.\n";
  out += "# TYPE eventcore_events_written_total counter\n";
  out += "eventcore_events_written_total " + std::to_string(events_written()) + "\n";
  out += "# HELP eventcore_command_retries_total Failed attempts that were tried again, by reason.\n";
  out += "# TYPE eventcore_command_retries_total counter\n";
  out += "eventcore_command_retries_total{reason=\"conflict\"} " + std::to_string(retries(RetryReason::conflict)) + "\n";
  out += "eventcore_command_retries_total{reason=\"transient\"} " + std::to_string(retries(RetryReason::transient)) + "\n";
  out += "# HELP eventcore_command_duration_seconds Time from start to outcome, all attempts.\n";
  out += "# TYPE eventcore_command_duration_seconds histogram\n";
  histogram(out, "eventcore_command_duration_seconds", "", total_);
  out += "# HELP eventcore_command_phase_seconds Time per phase of a command's last attempt.\n";
  out += "# TYPE eventcore_command_phase_seconds histogram\n";
  static constexpr const char* names[] = {"prepare", "reconstruct", "handle", "write"};
  for (std::size_t i = 0; i < phases_.size(); ++i)
    histogram(out, "eventcore_command_phase_seconds", std::string("phase=\"") + names[i] + "\"", phases_[i]);
  return out;
}

}  // namespace eventcore
