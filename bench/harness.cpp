#include "harness.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <latch>
#include <limits>
#include <mutex>
#include <thread>

namespace eventcore::bench {

RunStats run_clients(std::vector<std::unique_ptr<Client>>& clients, double seconds, int warmup_ops) {
  const auto n = static_cast<std::ptrdiff_t>(clients.size());
  std::latch ready(n);
  std::latch go(1);
  Clock::time_point deadline;  // written before `go` opens, read after

  struct PerThread {
    std::uint64_t ops = 0, units = 0, errors = 0;
    double cpu_seconds = 0;
    std::string first_error;
    std::vector<float> latencies_us;
  };
  std::vector<PerThread> results(clients.size());
  std::vector<std::thread> threads;
  threads.reserve(clients.size());
  for (std::size_t i = 0; i < clients.size(); ++i) {
    threads.emplace_back([&, i] {
      Client& client = *clients[i];
      PerThread& r = results[i];
      r.latencies_us.reserve(1 << 14);
      std::string error;
      for (int w = 0; w < warmup_ops; ++w) {
        error.clear();
        (void)client.op(error);
        if (!error.empty() && r.first_error.empty()) r.first_error = "warmup: " + error;
      }
      ready.count_down();
      go.wait();
      const auto end = deadline;
      const double cpu0 = thread_cpu_seconds();
      for (;;) {
        error.clear();
        const auto t0 = Clock::now();
        if (t0 >= end) break;
        const std::uint64_t units = client.op(error);
        const auto t1 = Clock::now();
        if (t1 > end) break;
        if (!error.empty()) {
          ++r.errors;
          if (r.first_error.empty()) r.first_error = error;
          continue;
        }
        ++r.ops;
        r.units += units;
        r.latencies_us.push_back(std::chrono::duration<float, std::micro>(t1 - t0).count());
      }
      r.cpu_seconds = thread_cpu_seconds() - cpu0;
    });
  }
  ready.wait();
  const auto window = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  deadline = Clock::now() + window;
  go.count_down();
  for (auto& t : threads) t.join();

  RunStats stats;
  stats.seconds = seconds;
  std::vector<float> all;
  stats.cpu_seconds = 0;
  for (auto& r : results) {
    stats.cpu_seconds += r.cpu_seconds;
    stats.ops += r.ops;
    stats.units += r.units;
    stats.errors += r.errors;
    if (stats.first_error.empty()) stats.first_error = r.first_error;
    all.insert(all.end(), r.latencies_us.begin(), r.latencies_us.end());
  }
  if (!all.empty()) {
    stats.p50_us = percentile(all, 0.50);
    stats.p99_us = percentile(all, 0.99);
  }
  return stats;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double percentile(std::vector<float>& values, double p) {
  if (values.empty()) return -1;
  auto k = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size()))) ;
  k = k == 0 ? 0 : std::min(k - 1, values.size() - 1);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
  return values[k];
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double machine_context_switches() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "ctxt") {
      double n = 0;
      in >> n;
      return n;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return -1;
}

double load_average() {
  std::ifstream in("/proc/loadavg");
  double one = -1;
  in >> one;
  return one;
}

std::string with_commas(double value) {
  auto v = static_cast<long long>(std::llround(value));
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return v < 0 ? "-" + out : out;
}

Comparison alternate(const std::string& bench, int reps, const Side& baseline, const Side& subject,
                     bool per_event, const std::string& unit) {
  Comparison c;
  auto run = [&](const Side& side, std::vector<RunStats>& into, int rep) {
    const double switches = machine_context_switches();
    RunStats s = side.run();
    if (switches >= 0) s.context_switches = machine_context_switches() - switches;
    const double rate = per_event ? s.units_per_s() : s.ops_per_s();
    std::cerr << "[bench] " << bench << " rep " << rep + 1 << "/" << reps << " " << side.name << ": "
              << with_commas(rate) << " " << unit;
    if (s.p50_us >= 0) std::cerr << " (p50 " << std::lround(s.p50_us) << " us, p99 " << std::lround(s.p99_us) << " us)";
    if (s.cpu_seconds > 0) std::cerr << " (" << with_commas((per_event ? s.units : s.ops) / s.cpu_seconds) << " per CPU-second)";
    if (!s.complete) std::cerr << " [stopped at the deadline]";
    if (s.errors > 0) std::cerr << " [" << s.errors << " errors, first: " << s.first_error << "]";
    else if (!s.first_error.empty()) std::cerr << " [" << s.first_error << "]";
    std::cerr << std::endl;
    into.push_back(std::move(s));
  };
  for (int rep = 0; rep < reps; ++rep) {
    if (rep % 2 == 0) {
      run(baseline, c.baseline, rep);
      run(subject, c.subject, rep);
    } else {
      run(subject, c.subject, rep);
      run(baseline, c.baseline, rep);
    }
  }
  return c;
}

}  // namespace eventcore::bench
