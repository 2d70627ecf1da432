// The production shape: real threads, detached store I/O actors, blocking
// execute_sync from several plain threads at once.

#include <atomic>
#include <thread>

#include <catch2/catch.hpp>

#include "eventcore/actors/command_executor.hpp"
#include "eventcore/bank/commands.hpp"
#include "eventcore/store/memory_store.hpp"
#include "support/bank_audit.hpp"

using namespace eventcore;
using namespace std::chrono_literals;

namespace {
bank::AccountId id(int i) { return bank::AccountId::try_new("t" + std::to_string(i)).value(); }
bank::Money money(std::int64_t c) { return bank::Money::try_new(c).value(); }

CommandExecutor executor_on(std::shared_ptr<EventStore> store, RuntimeConfig config = {}) {
  return CommandExecutor::builder()
      .with_store(std::move(store))
      .with_retry_policy(RetryPolicy::exponential(1ms, 2.0, 20ms, 10))
      .with_config(config)
      .build()
      .value();
}
}  // namespace

TEST_CASE("transfers from several threads and two runtimes on one store never overdraw an account") {
  // Two runtimes are two processes: only the store's version check keeps one
  // from deciding on a balance the other already spent. Without it this test
  // sees overdrafts (and money conserved all the same: paired events keep
  // the total).
  auto store = std::make_shared<MemoryStore>();
  RuntimeConfig config;
  config.io_actors = 2;
  config.max_live_streams = 8;  // fewer than the accounts: passivation under load
  CommandExecutor executors[] = {executor_on(store, config), executor_on(store, config)};
  constexpr int accounts = 12;
  for (int i = 0; i < accounts; ++i) {
    REQUIRE(executors[0].execute_sync(bank::OpenAccount{id(i), "o"}).ok());
    REQUIRE(executors[0].execute_sync(bank::Deposit{id(i), money(500)}).ok());
  }
  std::atomic<int> ok{0}, rejected{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int n = 0; n < 50; ++n) {
        int from = (t * 7 + n * 3) % accounts, to = (from + 1 + n % (accounts - 1)) % accounts;
        auto r = executors[t % 2].execute_sync(bank::TransferMoney{id(from), id(to), money(50 + n % 200), ""});
        if (r.ok())
          ++ok;
        else if (r.error().code == CommandErrorCode::validation_failed)
          ++rejected;
        else
          ++other;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(other == 0);
  CHECK(ok + rejected == 200);
  CHECK(rejected > 0);  // the amounts are large enough to run accounts dry
  std::vector<bank::AccountId> ids;
  for (int i = 0; i < accounts; ++i) ids.push_back(id(i));
  // Never overdrawn, at any point of any account's history.
  CHECK(testing::audit_accounts(*store, ids).total == accounts * 500);
  for (auto& executor : executors) executor.shutdown();
}

TEST_CASE("a stream longer than the store's page limit is read to its end, and can be written again") {
  // The store clamps every page to 100 events: a page of 100 is not the end.
  auto store = std::make_shared<MemoryStore>(StoreLimits{.max_page_size = 100});
  {
    auto first = executor_on(store);
    REQUIRE(first.execute_sync(bank::OpenAccount{id(0), "o"}).ok());
    for (int i = 0; i < 299; ++i) REQUIRE(first.execute_sync(bank::Deposit{id(0), money(1)}).ok());
    first.shutdown();
  }
  RuntimeConfig config;
  config.read_page_size = 1000;  // asks for more than the store gives
  auto fresh = executor_on(store, config);  // a restart: nothing cached
  auto withdrawn = fresh.execute_sync(bank::Withdraw{id(0), money(299)});
  INFO((withdrawn.ok() ? std::string("ok") : to_string(withdrawn.error())));
  REQUIRE(withdrawn.ok());
  CHECK(withdrawn->attempts == 1);
  CHECK(withdrawn->stream_versions.at(0).version.value == 301);
  auto overdraft = fresh.execute_sync(bank::Withdraw{id(0), money(1)});
  REQUIRE_FALSE(overdraft.ok());
  CHECK(overdraft.error().code == CommandErrorCode::validation_failed);
  fresh.shutdown();
}
