// One "process" of the two-process bank test: its own actor runtime on a
// PostgresStore, running transfers among the shared accounts. Prints one line
// per command: "ok <reference>" or "rejected <reference>" (or "error ...").
// Usage: bank_hammer <conninfo> <schema> <seed> <transfers> <accounts>

#include <cstdio>
#include <random>
#include <string>

#include "eventcore/actors/command_executor.hpp"
#include "eventcore/bank/commands.hpp"
#include "eventcore/store/postgres_store.hpp"

using namespace eventcore;

int main(int argc, char** argv) {
  if (argc != 6) return 2;
  PostgresStoreConfig config;
  config.conninfo = argv[1];
  config.schema = argv[2];
  config.pool_size = 4;
  auto store = PostgresStore::open(config);
  if (!store) {
    std::printf("error open %s\n", to_string(store.error()).c_str());
    return 1;
  }
  std::shared_ptr<EventStore> shared = std::move(*store);
  auto executor = CommandExecutor::builder()
                      .with_store(shared)
                      .with_retry_policy(RetryPolicy::exponential(std::chrono::milliseconds(2), 2.0,
                                                                  std::chrono::milliseconds(50), 50))
                      .build()
                      .value();
  const std::string seed = argv[3];
  const int transfers = std::stoi(argv[4]), accounts = std::stoi(argv[5]);
  std::mt19937_64 rng(std::stoull(seed));
  auto id = [](int i) { return bank::AccountId::try_new("acc" + std::to_string(i)).value(); };
  for (int n = 0; n < transfers; ++n) {
    int from = static_cast<int>(rng() % accounts), to = static_cast<int>(rng() % accounts);
    if (from == to) to = (to + 1) % accounts;
    const std::string reference = "p" + seed + "-" + std::to_string(n);
    auto result = executor.execute_sync(bank::TransferMoney{
        id(from), id(to), bank::Money::try_new(static_cast<std::int64_t>(1 + rng() % 400)).value(), reference});
    if (result.ok())
      std::printf("ok %s %zu\n", reference.c_str(), result->attempts);
    else if (result.error().code == CommandErrorCode::validation_failed)
      std::printf("rejected %s\n", reference.c_str());
    else
      std::printf("error %s %s\n", reference.c_str(), to_string(result.error()).c_str());
  }
  executor.shutdown();
  return 0;
}
