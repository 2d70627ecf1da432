#pragma once

// One JSON line per case on stdout:
// {"bench","metric","value","unit","clients","baseline","baseline_value","ratio", ...extras}
// value and baseline_value are medians over the repetitions of each side.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace eventcore::bench {

struct CaseReport {
  std::string bench;     // e.g. "pg_append_single_c16"
  std::string metric;    // e.g. "append_throughput"
  std::string unit;      // "tx/s", "events/s", "reads/s"
  int clients = 1;
  std::string baseline;  // what the subject is compared with
  bool per_event = false;  // value = events/s (units) rather than operations/s
  std::optional<double> target_ratio;  // subject must reach this fraction of the baseline
  std::optional<double> target_value;  // subject must reach this absolute value (in `unit`)
  nlohmann::json extra = nlohmann::json::object();
};

// Prints the line for `c` to stdout (flushed) and returns it.
nlohmann::json emit(const CaseReport& report, const Comparison& c);

}  // namespace eventcore::bench
