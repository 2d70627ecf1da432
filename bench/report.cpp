#include "report.hpp"

#include <cmath>
#include <iostream>

namespace eventcore::bench {

namespace {
std::vector<double> rates(const std::vector<RunStats>& runs, bool per_event) {
  std::vector<double> out;
  for (const auto& r : runs) out.push_back(per_event ? r.units_per_s() : r.ops_per_s());
  return out;
}
template <class F>
std::vector<double> each(const std::vector<RunStats>& runs, F f) {
  std::vector<double> out;
  for (const auto& r : runs) out.push_back(f(r));
  return out;
}
// Rounds to a multiple of `unit` (1 or 0.001) so that the JSON shows no binary noise.
double round_to(double v, double unit) {
  const double scale = std::round(1 / unit);
  return std::round(v * scale) / scale;
}
nlohmann::json rounded(const std::vector<double>& values) {
  auto out = nlohmann::json::array();
  for (double v : values) out.push_back(round_to(v, 1));
  return out;
}
}  // namespace

nlohmann::json emit(const CaseReport& report, const Comparison& c) {
  const auto subject = rates(c.subject, report.per_event);
  const auto baseline = rates(c.baseline, report.per_event);
  const double value = median(subject);
  const double baseline_value = median(baseline);
  const double ratio = baseline_value > 0 ? value / baseline_value : 0;

  nlohmann::json line;
  line["bench"] = report.bench;
  line["metric"] = report.metric;
  line["value"] = round_to(value, 1);
  line["unit"] = report.unit;
  line["clients"] = report.clients;
  line["baseline"] = report.baseline;
  line["baseline_value"] = round_to(baseline_value, 1);
  line["ratio"] = round_to(ratio, 0.001);
  line["reps"] = c.subject.size();
  line["values"] = rounded(subject);
  line["baseline_values"] = rounded(baseline);

  // The other rate (events/s beside tx/s and vice versa), when it differs.
  const auto other_subject = rates(c.subject, !report.per_event);
  if (other_subject != subject) {
    const char* key = report.per_event ? "ops_per_s" : "events_per_s";
    line[key] = round_to(median(other_subject), 1);
    line[std::string("baseline_") + key] = round_to(median(rates(c.baseline, !report.per_event)), 1);
  }
  auto p = [](const RunStats& r, bool p99) { return p99 ? r.p99_us : r.p50_us; };
  if (!c.subject.empty() && c.subject.front().p50_us >= 0) {
    line["p50_us"] = round_to(median(each(c.subject, [&](const RunStats& r) { return p(r, false); })), 1);
    line["p99_us"] = round_to(median(each(c.subject, [&](const RunStats& r) { return p(r, true); })), 1);
  }
  if (!c.baseline.empty() && c.baseline.front().p50_us >= 0) {
    line["baseline_p50_us"] = round_to(median(each(c.baseline, [&](const RunStats& r) { return p(r, false); })), 1);
    line["baseline_p99_us"] = round_to(median(each(c.baseline, [&](const RunStats& r) { return p(r, true); })), 1);
  }
  // Rates per CPU-second of the benchmark's client side (its threads or its
  // process): insensitive to other work on the machine. cpu_ratio: the
  // subject's client CPU per operation over the baseline's (lower is better).
  if (!c.subject.empty() && c.subject.front().cpu_seconds > 0) {
    auto per_cpu = [&](const RunStats& r) {
      return static_cast<double>(report.per_event ? r.units : r.ops) / r.cpu_seconds;
    };
    const double subject_per_cpu = median(each(c.subject, per_cpu));
    line["value_per_cpu_s"] = round_to(subject_per_cpu, 1);
    if (!c.baseline.empty() && c.baseline.front().cpu_seconds > 0) {
      const double baseline_per_cpu = median(each(c.baseline, per_cpu));
      line["baseline_value_per_cpu_s"] = round_to(baseline_per_cpu, 1);
      if (subject_per_cpu > 0) line["cpu_ratio"] = round_to(baseline_per_cpu / subject_per_cpu, 0.001);
    }
  }
  // The machine's context switches per operation (thread hand-offs, in
  // every process: a database server's too), when alternate() counted them.
  auto switches_per_op = [&](const std::vector<RunStats>& runs) {
    return round_to(median(each(runs, [](const RunStats& r) {
                      return r.ops > 0 ? r.context_switches / static_cast<double>(r.ops) : 0.0;
                    })),
                    0.1);
  };
  if (!c.subject.empty() && c.subject.front().context_switches >= 0) {
    line["context_switches_per_op"] = switches_per_op(c.subject);
    line["baseline_context_switches_per_op"] = switches_per_op(c.baseline);
  }
  line["loadavg_1m"] = load_average();
  std::uint64_t errors = 0, baseline_errors = 0;
  bool complete = true;
  for (const auto& r : c.subject) errors += r.errors, complete = complete && r.complete;
  for (const auto& r : c.baseline) baseline_errors += r.errors, complete = complete && r.complete;
  line["errors"] = errors;
  line["baseline_errors"] = baseline_errors;
  if (!complete) line["complete"] = false;
  if (!c.subject.empty()) line["seconds"] = c.subject.front().seconds;

  if (report.target_ratio) {
    line["target"] = ">= " + std::to_string(*report.target_ratio).substr(0, 4) + "x baseline";
    line["target_met"] = ratio >= *report.target_ratio;
  } else if (report.target_value) {
    line["target"] = ">= " + with_commas(*report.target_value) + " " + report.unit;
    line["target_met"] = value >= *report.target_value;
  }
  for (auto& [k, v] : report.extra.items()) line[k] = v;

  std::cout << line.dump() << std::endl;
  return line;
}

}  // namespace eventcore::bench
