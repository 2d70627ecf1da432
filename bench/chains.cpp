#include "chains.hpp"

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace eventcore::bench {

RunStats run_chains(const CommandExecutor& executor, int clients, const JobFactory& job, const ChainOptions& cfg) {
  struct Chain {
    int id = 0;
    std::uint64_t n = 0, ops = 0, errors = 0;
    Clock::time_point started;
    std::vector<float> latencies;
    std::string first_error;
  };
  const auto t0 = Clock::now();
  const auto window_start = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(cfg.warmup_seconds));
  const auto window_end = window_start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(cfg.seconds));
  std::vector<Chain> chains(static_cast<std::size_t>(clients));
  std::mutex mutex;
  std::condition_variable all_done;
  int running = clients;

  std::function<void(Chain&)> submit = [&](Chain& chain) {
    chain.started = Clock::now();
    executor.submit(job(chain.id, chain.n++), [&](const ExecuteResult& r) {
      const auto now = Clock::now();
      if (chain.started >= window_start && now <= window_end) {
        if (r.ok()) {
          ++chain.ops;
          chain.latencies.push_back(std::chrono::duration<float, std::micro>(now - chain.started).count());
        } else {
          ++chain.errors;
          if (chain.first_error.empty()) chain.first_error = to_string(r.error());
        }
      }
      if (now < window_end) {
        submit(chain);
        return;
      }
      std::lock_guard lock(mutex);
      if (--running == 0) all_done.notify_all();
    });
  };
  for (int c = 0; c < clients; ++c) {
    chains[static_cast<std::size_t>(c)].id = c;
    chains[static_cast<std::size_t>(c)].latencies.reserve(1 << 16);
  }
  for (auto& chain : chains) submit(chain);
  std::this_thread::sleep_until(window_start);
  const double cpu_start = process_cpu_seconds();
  std::this_thread::sleep_until(window_end);
  const double cpu_end = process_cpu_seconds();
  {
    std::unique_lock lock(mutex);
    all_done.wait(lock, [&] { return running == 0; });
  }
  RunStats stats;
  stats.seconds = cfg.seconds;
  stats.cpu_seconds = cpu_end - cpu_start;
  std::vector<float> all;
  for (auto& chain : chains) {
    stats.ops += chain.ops;
    stats.units += chain.ops * cfg.units_per_op;
    stats.errors += chain.errors;
    if (stats.first_error.empty()) stats.first_error = chain.first_error;
    all.insert(all.end(), chain.latencies.begin(), chain.latencies.end());
  }
  if (!all.empty()) {
    stats.p50_us = percentile(all, 0.5);
    stats.p99_us = percentile(all, 0.99);
  }
  return stats;
}

}  // namespace eventcore::bench
