// The simulation's plain parts: fault rates, command records, combined
// workloads, failure reports.

#include <charconv>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "eventcore/simulation/simulator.hpp"

#ifndef EVENTCORE_PLANTED_BUG_NAME
#define EVENTCORE_PLANTED_BUG_NAME ""
#endif

namespace eventcore::simulation {

FaultRates FaultRates::defaults() {
  FaultRates f;
  f.transient = 0.03;
  f.ambiguous = 0.03;
  f.foreign = 0.05;
  f.latency = 0.3;
  f.max_latency = std::chrono::milliseconds(20);
  f.crash_stream = 0.002;
  f.crash_coordinator = 0.002;
  f.crash_projection = 0.01;
  f.lost_wakeup = 0.2;
  f.checkpoint_failure = 0.1;
  return f;
}

Result<FaultRates> FaultRates::parse(std::string_view text) {
  FaultRates f = defaults();
  bool first = true;
  while (!text.empty()) {
    auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (item == "none" && first) {
      f = none();
    } else if ((item == "default" || item == "defaults") && first) {
      f = defaults();
    } else {
      auto eq = item.find('=');
      if (eq == std::string_view::npos)
        return Error{ErrorCode::invalid_argument, "fault '" + std::string(item) + "' is not name=value"};
      std::string name(item.substr(0, eq));
      std::string value(item.substr(eq + 1));
      char* end = nullptr;
      double v = std::strtod(value.c_str(), &end);
      const bool is_delay = name == "max_latency_ms";
      const double max = is_delay ? 3'600'000.0 : 1.0;  // a delay in ms; every other fault is a probability
      if (value.empty() || *end != '\0' || !std::isfinite(v) || v < 0 || v > max)
        return Error{ErrorCode::invalid_argument, "fault '" + name + "' needs a number from 0 to " +
                                                      (is_delay ? std::string("3600000 (ms)") : std::string("1")) +
                                                      ", not '" + value + "'"};
      if (name == "transient") f.transient = v;
      else if (name == "ambiguous") f.ambiguous = v;
      else if (name == "foreign") f.foreign = v;
      else if (name == "latency") f.latency = v;
      else if (name == "max_latency_ms") f.max_latency = std::chrono::milliseconds(static_cast<long>(v));
      else if (name == "crash_stream") f.crash_stream = v;
      else if (name == "crash_coordinator") f.crash_coordinator = v;
      else if (name == "crash_projection") f.crash_projection = v;
      else if (name == "lost_wakeup") f.lost_wakeup = v;
      else if (name == "checkpoint_failure") f.checkpoint_failure = v;
      else
        return Error{ErrorCode::invalid_argument,
                     "unknown fault '" + name +
                         "' (transient, ambiguous, foreign, latency, max_latency_ms, crash_stream, crash_coordinator, "
                         "crash_projection, lost_wakeup, checkpoint_failure)"};
    }
    first = false;
  }
  return f;
}

std::string FaultRates::str() const {
  std::ostringstream out;
  out << "transient=" << transient << ",ambiguous=" << ambiguous << ",foreign=" << foreign << ",latency=" << latency
      << ",max_latency_ms=" << max_latency.count() << ",crash_stream=" << crash_stream
      << ",crash_coordinator=" << crash_coordinator << ",crash_projection=" << crash_projection
      << ",lost_wakeup=" << lost_wakeup << ",checkpoint_failure=" << checkpoint_failure;
  return out.str();
}

CommandRecord::Outcome CommandRecord::outcome() const {
  if (results.empty()) return Outcome::pending;
  const auto& last = results.back();
  if (last.ok()) return Outcome::ok;
  switch (last.error().code) {
    case CommandErrorCode::validation_failed: return Outcome::rejected;
    case CommandErrorCode::store_unavailable:
    case CommandErrorCode::timeout: return Outcome::ambiguous;
    default: return Outcome::failed;
  }
}

bool CommandRecord::must_not_have_written() const {
  const auto o = outcome();
  if (o != Outcome::rejected && o != Outcome::failed) return false;
  // A killed coordinator's append may still have landed after the last
  // attempt read the streams: then a rejection is no proof of nothing.
  return killed == 0;
}

std::optional<std::uint64_t> RunView::command_of(const StoredEvent& event) {
  auto it = event.metadata.extra.find("sim.cmd");
  if (it == event.metadata.extra.end()) return std::nullopt;
  std::uint64_t id = 0;
  auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), id);
  if (ec != std::errc{}) return std::nullopt;
  return id;
}

const CommandRecord* RunView::record_of(const StoredEvent& event) const {
  auto id = command_of(event);
  if (!id || *id >= commands.size()) return nullptr;
  return &commands[*id];
}

namespace {

class CombinedProjection final : public Projection {
 public:
  explicit CombinedProjection(std::vector<std::unique_ptr<Projection>> parts) : parts_(std::move(parts)) {}
  void apply(const StoredEvent& event) override {
    for (auto& p : parts_) p->apply(event);
  }
  std::string digest() const override {
    std::string out;
    for (const auto& p : parts_) out += p->digest() + "|";
    return out;
  }

 private:
  std::vector<std::unique_ptr<Projection>> parts_;
};

class Combined final : public Workload {
 public:
  Combined(std::string name, std::vector<std::unique_ptr<Workload>> parts)
      : name_(std::move(name)), parts_(std::move(parts)) {}
  std::string name() const override { return name_; }
  void setup(SimRandom& rng) override {
    for (auto& p : parts_) p->setup(rng);
  }
  std::optional<CommandSpec> initial_command(std::uint64_t id, SimRandom& rng) override {
    for (; initial_part_ < parts_.size(); ++initial_part_)
      if (auto spec = parts_[initial_part_]->initial_command(id, rng)) return spec;
    return std::nullopt;
  }
  CommandSpec next_command(std::uint64_t id, SimRandom& rng) override {
    return parts_[rng.below(parts_.size())]->next_command(id, rng);
  }
  std::optional<EventToWrite> foreign_event(const StreamId& stream, const std::vector<StoredEvent>& events,
                                            SimRandom& rng) override {
    for (auto& p : parts_)
      if (auto e = p->foreign_event(stream, events, rng)) return e;
    return std::nullopt;
  }
  std::unique_ptr<Projection> make_projection() const override {
    std::vector<std::unique_ptr<Projection>> projections;
    for (const auto& p : parts_)
      if (auto projection = p->make_projection()) projections.push_back(std::move(projection));
    if (projections.empty()) return nullptr;
    return std::make_unique<CombinedProjection>(std::move(projections));
  }
  void check(const RunView& run, Checker& check) const override {
    for (const auto& p : parts_) p->check(run, check);
  }

 private:
  std::string name_;
  std::vector<std::unique_ptr<Workload>> parts_;
  std::size_t initial_part_ = 0;
};

}  // namespace

std::unique_ptr<Workload> combine(std::string name, std::vector<std::unique_ptr<Workload>> parts) {
  return std::make_unique<Combined>(std::move(name), std::move(parts));
}

std::string describe_failure(const RunReport& report, std::string_view replay_command) {
  std::ostringstream out;
  char hash[32];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(report.trace_hash));
  out << "FAIL seed=" << report.seed;
  if (!report.violations.empty())
    out << ": invariant '" << report.violations.front().invariant << "' broken: " << report.violations.front().detail;
  out << "\n";
  for (std::size_t i = 1; i < report.violations.size() && i < 5; ++i)
    out << "  also '" << report.violations[i].invariant << "': " << report.violations[i].detail << "\n";
  out << "  last " << report.trace.size() << " of " << report.trace_lines << " trace lines:\n";
  for (const auto& line : report.trace) out << "    " << line << "\n";
  out << "  trace hash: " << hash << "\n";
  out << "  replay: " << replay_command << "\n";
  return out.str();
}

std::string_view planted_bug() { return EVENTCORE_PLANTED_BUG_NAME; }

}  // namespace eventcore::simulation
