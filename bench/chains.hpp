#pragma once

// Clients of the command runtime as chains: each client submits its next
// command from the previous one's callback (asynchronous, like a service
// with that many requests in flight). Shared by runtime_bench and
// history_bench.

#include <cstdint>
#include <functional>

#include "eventcore/actors/command_executor.hpp"
#include "harness.hpp"

namespace eventcore::bench {

struct ChainOptions {
  double seconds = 5;          // the measurement window
  double warmup_seconds = 0.3;  // before it, not counted
  std::uint64_t units_per_op = 1;  // events per command, for RunStats::units
};

// The command a client submits as its n-th.
using JobFactory = std::function<CommandJobPtr(int client, std::uint64_t n)>;

// Runs `clients` chains of commands on `executor` for the window; only
// commands finishing inside it count. RunStats::cpu_seconds is the whole
// process's CPU time in the window.
RunStats run_chains(const CommandExecutor& executor, int clients, const JobFactory& job, const ChainOptions& options);

}  // namespace eventcore::bench
