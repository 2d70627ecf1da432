#pragma once

// The timing harness shared by every case: client threads released together,
// a fixed measurement window, latency percentiles, and the alternation of a
// baseline and a subject so that machine noise lands on both.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace eventcore::bench {

using Clock = std::chrono::steady_clock;

// What one timed run measured.
struct RunStats {
  double seconds = 0;        // length of the measurement window
  std::uint64_t ops = 0;     // operations completed inside the window
  std::uint64_t units = 0;   // events written or read by those operations
  std::uint64_t errors = 0;  // operations that failed (not counted in ops)
  double p50_us = -1;        // latency percentiles; negative when not measured
  double p99_us = -1;
  double cpu_seconds = -1;   // CPU time (user + system) of the client threads (or process) in the window; negative when not measured
  double context_switches = -1;  // of the whole machine during the run (alternate() counts them); negative when not measured
  bool complete = true;      // false when a bounded read stopped at the deadline
  std::string first_error;

  double ops_per_s() const { return seconds > 0 ? static_cast<double>(ops) / seconds : 0; }
  double units_per_s() const { return seconds > 0 ? static_cast<double>(units) / seconds : 0; }
};

// One client thread's work. run_clients calls op() in a loop on its own thread.
class Client {
 public:
  virtual ~Client() = default;
  // Performs one operation; returns the events it wrote or read, or sets
  // `error` (and the return value is ignored).
  virtual std::uint64_t op(std::string& error) = 0;
};

// Runs every client on its own thread: each does `warmup_ops` untimed
// operations, then all start together and run for `seconds`. Only operations
// that finish inside the window count; latency is measured per operation.
RunStats run_clients(std::vector<std::unique_ptr<Client>>& clients, double seconds, int warmup_ops);

// The median of the values (0 for none).
double median(std::vector<double> values);
// The p-th percentile (0..1) of the values, reordering them.
double percentile(std::vector<float>& values, double p);

// A named way to run one measurement: the baseline or the subject of a case.
struct Side {
  std::string name;
  std::function<RunStats()> run;
};

struct Comparison {
  std::vector<RunStats> baseline;
  std::vector<RunStats> subject;
};

// Runs baseline and subject `reps` times each, alternating which goes first
// (B S, S B, B S, ...), with progress on stderr. `rate` picks the number shown.
// Each run's RunStats::context_switches is counted here (warm-up included).
Comparison alternate(const std::string& bench, int reps, const Side& baseline, const Side& subject,
                     bool per_event, const std::string& unit);

// CPU time (user + system) consumed so far by the calling thread.
double thread_cpu_seconds();
// CPU time (user + system) of the whole process so far: work spread over
// many threads (the runtime's, several writers') counted whole, which other
// load on the machine does not distort the way wall time is.
double process_cpu_seconds();
// Context switches of the whole machine so far (/proc/stat's ctxt; negative
// where there is none): thread hand-offs, counted across every process, a
// database server's included.
double machine_context_switches();

// The 1-minute load average of the machine (other work competes with the bench).
double load_average();

// "12,345"
std::string with_commas(double value);

}  // namespace eventcore::bench
